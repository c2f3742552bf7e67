"""Routing > Rate cards: the board, edit form, a card's revisions and rows, CSV import and export."""

from datetime import UTC
from typing import Any

from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views import View

from trunkline.core.bulk_import import ImportFileError, decode_upload
from trunkline.core.formats import utc_text
from trunkline.core.integers import ascii_int
from trunkline.core.uploads import declared_too_large, too_large_message, upload_limit
from trunkline.core.views import generic
from trunkline.core.views.mixins import RoleRequiredMixin
from trunkline.routing.filtersets import RateCardFilterSet
from trunkline.routing.forms import RateCardForm, RateImportForm, RevisionScheduleForm
from trunkline.routing.models import RateCard, RateImport, RateRevision
from trunkline.routing.ratefile import MappingError
from trunkline.routing.selectors import (
    card_revision,
    card_revisions,
    customer_cards_using,
    rate_csv_lines,
    revision_rate_values,
    revision_rates,
    rollback_target,
    running_imports,
)
from trunkline.routing.services.ratecards import (
    rate_card_delete,
    rate_card_import,
    rate_card_rollback,
    rate_card_save,
    rate_diff,
    rate_import_start,
    rate_revision_activate,
)
from trunkline.routing.tables import RateCardTable

RATES_PER_PAGE = 100
# From this many lines a deck is imported by the worker, with a progress page: smaller ones take well under a
# second, and the operator is better served by the result at once.
BACKGROUND_IMPORT_ROWS = 20_000
PREVIEW_ROWS = 20


class RateCardListView(generic.ObjectListView):
    queryset = RateCard.objects.select_related("provider", "active_revision")
    filterset = RateCardFilterSet
    table = RateCardTable
    search_placeholder = "Search name, notes"
    default_ordering = ("name",)


class RateCardView(generic.ObjectView):
    """A card: its revisions (active marked, activate / schedule / roll back) and the active revision's rows."""

    queryset = RateCard.objects.select_related("provider", "active_revision").prefetch_related("egress_cards")
    template_name = "routing/ratecard.html"

    def get_extra_context(self, request: HttpRequest, obj: RateCard) -> dict[str, Any]:
        prefix = request.GET.get("prefix", "").strip()
        rates = revision_rates(revision=obj.active_revision, prefix=prefix)
        page = Paginator(rates, RATES_PER_PAGE).get_page(request.GET.get("page"))
        return {"revisions": card_revisions(obj), "page": page, "rates": page.object_list, "prefix": prefix,
                "schedule_form": RevisionScheduleForm(), "customer_cards": customer_cards_using(obj),
                "running_imports": running_imports(obj), "rollback_target": rollback_target(obj)}


class RateCardEditView(generic.ObjectEditView):
    queryset = RateCard.objects.all()
    form = RateCardForm

    def save_form(self, request: HttpRequest, form: RateCardForm) -> RateCard:
        return rate_card_save(card=form.save(commit=False), egress_cards=list(form.cleaned_data["egress_cards"]))


class RateCardDeleteView(generic.ObjectDeleteView):
    queryset = RateCard.objects.all()
    consequence = ("Every revision and rate row of the card is deleted; customers routed by it stop passing "
                   "calls. The deletion is kept in the audit log.")

    def delete_object(self, obj: RateCard) -> None:
        rate_card_delete(card=obj)


class RevisionActivateView(RoleRequiredMixin, View):
    """Activate a revision now, or schedule it (date_live in the future)."""

    write = True

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        revision = get_object_or_404(RateRevision.objects.select_related("card"), pk=pk)
        form = RevisionScheduleForm(request.POST) if request.POST.get("date_live") else None
        if form is not None and not form.is_valid():
            messages.error(request, " ".join(form.errors["date_live"]))
            return redirect(revision.card.get_absolute_url())
        date_live = form.cleaned_data["date_live"].astimezone(UTC) if form is not None else None
        try:
            rate_revision_activate(revision=revision, date_live=date_live)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            revision.refresh_from_db()
            if revision.card.active_revision_id == revision.pk or date_live is None:
                messages.success(request, f"Revision {revision.number} is now active.")
            else:
                messages.success(request, f"Revision {revision.number} goes live at {utc_text(date_live)}.")
        return redirect(revision.card.get_absolute_url())


class RateCardRollbackView(RoleRequiredMixin, View):
    """GET asks first: which revision leaves, which comes back and what that changes; POST rolls back."""

    write = True

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = get_object_or_404(RateCard.objects.select_related("active_revision"), pk=pk)
        target = rollback_target(card)
        # Rolling back is importing the earlier revision over the active one: the same difference, the same words.
        diff = rate_diff(revision_rate_values(card.active_revision), revision_rate_values(target),
                         deck_in_order=True) if target else None
        return render(request, "routing/ratecard_rollback.html", {
            "object": card, "target": target, "diff": diff,
            "crumbs": [("Rate cards", reverse("routing:ratecard_list")), (str(card), card.get_absolute_url())]})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = get_object_or_404(RateCard, pk=pk)
        confirmed = request.POST.get("revision")  # the number the confirm page showed
        to = None if confirmed is None else ascii_int(confirmed)
        if confirmed is not None and to is None:
            messages.error(request, "There is no such revision to roll back to.")
            return redirect(card.get_absolute_url())
        try:
            revision = rate_card_rollback(card=card, to=to)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Rolled back: revision {revision.number} is active again.")
        return redirect(card.get_absolute_url())


class RateCardExportView(RoleRequiredMixin, View):
    """The active revision (or ?revision=N) as CSV, in the layout the import reads by default."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = get_object_or_404(RateCard, pk=pk)
        revision = card_revision(card, ascii_int(request.GET.get("revision", "")))
        if revision is None:
            messages.error(request, "There is no such revision to export.")
            return redirect(card.get_absolute_url())
        response = StreamingHttpResponse(rate_csv_lines(revision=revision), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="rate-card-{card.pk}-r{revision.number}.csv"'
        return response


class RateImportView(RoleRequiredMixin, View):
    """Upload or paste a deck: Preview checks every row and writes nothing; Import writes a new revision only when
    the whole file is valid, and activates it (or schedules it). A deck of BACKGROUND_IMPORT_ROWS lines or more is
    imported by the worker instead, on a page that shows its progress."""

    write = True
    template_name = "routing/rate_import.html"

    def render_page(self, request: HttpRequest, card: RateCard, form: RateImportForm, **extra: Any) -> HttpResponse:
        return render(request, self.template_name, {"object": card, "form": form, **extra})

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = get_object_or_404(RateCard, pk=pk)
        return self.render_page(request, card, RateImportForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        card = get_object_or_404(RateCard, pk=pk)
        try:
            if declared_too_large(request.META):
                raise RequestDataTooBig
            form = RateImportForm(request.POST, request.FILES)
        except RequestDataTooBig:  # the body (a file or pasted rows) is over the upload limit
            messages.error(request, too_large_message())
            return self.render_page(request, card, RateImportForm())
        if not form.is_valid():
            return self.render_page(request, card, form)
        data = form.cleaned_data
        upload = data["file"]
        if upload and upload.size > upload_limit():
            form.add_error("file", too_large_message())
            return self.render_page(request, card, form)
        try:
            text = decode_upload(upload.read()) if upload else data["csv"]
        except ImportFileError as error:
            form.add_error("file", str(error))
            return self.render_page(request, card, form)
        if not text.strip():
            form.add_error("csv", "Choose a file or paste the rows.")
            return self.render_page(request, card, form)
        dry_run = "_import" not in request.POST
        date_live = data["date_live"].astimezone(UTC) if data["date_live"] else None
        options = {"card": card, "text": text, "start_row": data["start_row"], "columns": data["columns"],
                   "date_live": date_live, "note": data["note"]}
        try:
            if not dry_run and text.count("\n") >= BACKGROUND_IMPORT_ROWS:
                imported = rate_import_start(**options, created_by=request.user)
                return redirect(imported.get_absolute_url())
            # Checked first, even without a preview: a deck that removes prefixes of the active revision is
            # imported only once the page has said so and the same count is confirmed.
            result = rate_card_import(**options, dry_run=True)
            held = not dry_run and not result.errors and bool(result.diff and result.diff.removed) and \
                request.POST.get("removals_confirmed") != str(result.diff.removed)
            if not dry_run and not result.errors and not held:
                result = rate_card_import(**options)
        except MappingError as error:
            form.add_error("columns", str(error))
            return self.render_page(request, card, form)
        except ValidationError as error:
            generic.add_errors(form, error)
            return self.render_page(request, card, form)
        if result.revision is not None:
            messages.success(request, result.summary)
            return redirect(card.get_absolute_url())
        errors = [(row, field, " ".join(problems)) for row, fields in result.errors.items()
                  for field, problems in fields.items()]
        # The pasted text goes back into the form, so Import after Preview sends the same rows.
        form = RateImportForm(initial={**data, "csv": text, "file": None})
        return self.render_page(request, card, form, result=result, errors=errors, held=held,
                                preview=result.parsed.rows[:PREVIEW_ROWS], dry_run=dry_run)


class RateImportStatusView(generic.ObjectView):
    """A deck the worker imports: progress while it runs (the page refreshes itself), then the outcome."""

    queryset = RateImport.objects.select_related("card", "job", "revision", "created_by")
    template_name = "routing/rate_import_status.html"

    def get_extra_context(self, request: HttpRequest, obj: RateImport) -> dict[str, Any]:
        progress = generic.import_progress(job=obj.job, rows=obj.rows, finished=obj.finished is not None)
        return {**progress,
                "counts": f"{progress['read']:,} of {obj.rows:,} row{pluralize(obj.rows)} read and checked, "
                          f"{progress['written']:,} written · uploaded by {obj.created_by or '—'} on "
                          f"{utc_text(obj.created)}",
                "errors": obj.errors,
                "crumbs": [("Rate cards", reverse("routing:ratecard_list")),
                           (str(obj.card), obj.card.get_absolute_url())]}
