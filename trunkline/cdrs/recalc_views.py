"""Recalc CDR on the card's CDR tab: the form (each operation shows its own inputs), the run's page with its
progress, and the CSV import of CDRs with a column mapping."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from trunkline.cdrs.models import RecalcOperation, RecalcRun
from trunkline.cdrs.services.csv_import import COLUMNS, MappingError, cdrs_import_csv
from trunkline.cdrs.services.recalc import RERATE_OPERATIONS, recalc_request
from trunkline.contracts.calls import ReleaseReason
from trunkline.core.bulk_import import ImportFileError
from trunkline.core.formats import utc_text
from trunkline.core.models import Job
from trunkline.core.uploads import UploadTooLarge, declared_too_large, spool, too_large_message
from trunkline.core.views import generic
from trunkline.customers.models import Customer
from trunkline.customers.views import CustomerCardView

REFRESH_MS = 2000  # how often a running recalc's page reloads
# The operations each input belongs to (the form's script shows an input only for its operations).
PERIOD_OPERATIONS = (RecalcOperation.REFRESH_SUMMARIES, *RERATE_OPERATIONS)


class RecalcForm(forms.Form):
    operation = forms.ChoiceField(choices=RecalcOperation.choices, widget=forms.RadioSelect,
                                  initial=RecalcOperation.REFRESH_CREDIT)
    date = forms.DateField(label="Date (UTC)", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                           help_text="The day whose calls and summaries are recalculated.")
    release_reasons = forms.MultipleChoiceField(
        label="Release reasons", required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(reason.value, reason.value) for reason in ReleaseReason],
        help_text="Only calls that ended with one of these; none ticked = every call of the day.")
    min_duration = forms.IntegerField(label="Minimum duration (s)", required=False, min_value=1,
                                      help_text="Only calls at least this long are adjusted, e.g. 3600.")
    new_duration = forms.IntegerField(label="New duration (s)", required=False, min_value=0,
                                      help_text="Their duration becomes this, e.g. 60 (the end moves with it).")

    inputs = {"date": PERIOD_OPERATIONS, "release_reasons": tuple(RERATE_OPERATIONS),
              "min_duration": (RecalcOperation.ADJUST_DURATION,), "new_duration": (RecalcOperation.ADJUST_DURATION,)}

    def inputs_of(self) -> list[tuple[forms.BoundField, str]]:
        """Each input with the operations it belongs to (space-separated), for the template's data-ops."""
        return [(self[name], " ".join(sorted(str(op) for op in ops))) for name, ops in self.inputs.items()]


class RecalcFormView(CustomerCardView):
    """Recalc CDR for the customer: queued for the worker, then its page shows the progress."""

    tab = "cdr"
    write = True
    template_name = "cdrs/recalc_form.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        form = getattr(request, "_recalc_form", None) or RecalcForm()
        runs = RecalcRun.objects.filter(customer=customer).select_related("job", "created_by")[:10]
        return {"form": form, "runs": runs, "operations": RecalcOperation.choices}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer, pk=pk)
        form = RecalcForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            adjust = data["operation"] == RecalcOperation.ADJUST_DURATION
            rerate = data["operation"] in RERATE_OPERATIONS
            # Inputs of other operations stay in the hidden fields of the form: only this operation's are sent.
            options = {"date": data["date"] if data["operation"] in PERIOD_OPERATIONS else None,
                       "release_reasons": data["release_reasons"] if rerate else (),
                       "min_duration": data["min_duration"] if adjust else None,
                       "new_duration": data["new_duration"] if adjust else None}
            try:
                run = recalc_request(operation=data["operation"], customer_id=customer.pk, actor=request.user,
                                     **options)
            except ValidationError as error:
                generic.add_errors(form, error)
            else:
                messages.success(request, f"Recalc #{run.pk} is queued: {run.get_operation_display()}.")
                return redirect("cdrs:recalcrun", run.pk)
        request._recalc_form = form  # type: ignore[attr-defined]
        return self.get(request, pk)


class RecalcRunView(generic.ObjectView):
    """One recalc run: its progress while the worker runs it (the page reloads itself), then its outcome."""

    queryset = RecalcRun.objects.select_related("customer", "provider", "job", "created_by")
    template_name = "cdrs/recalc_run.html"

    def get_extra_context(self, request: HttpRequest, obj: RecalcRun) -> dict[str, Any]:
        job = obj.job
        finished = obj.finished is not None
        failed = not finished and (job is None or job.status == Job.Status.FAILED)
        total = job.progress_total if job else 0
        done = total if finished else (job.progress_done if job else 0)
        crumbs = [("Customers", reverse("customers:customer_list"))]
        if obj.customer is not None:
            crumbs += [(str(obj.customer), obj.customer.get_absolute_url()),
                       ("CDR", reverse("cdrs:cdr_tab", args=[obj.customer.pk]))]
        phase = (job.payload.get("phase", "") if job else "")
        heading = ("Finished" if finished else "Stopped" if failed
                   else "Waiting for the worker…" if job is not None and job.status == Job.Status.QUEUED and not done
                   else {"rerate": "Re-rating the calls…", "summaries": "Rebuilding the summaries…",
                         "credit": "Refreshing the credit…"}.get(phase, "Running…"))
        return {
            "job": job, "done": done, "total": total, "running": not finished and not failed, "failed": failed,
            "percent": min(round(100 * done / total), 100) if total else (100 if finished else 0),
            "heading": heading, "crumbs": crumbs, "refresh_seconds": REFRESH_MS // 1000,
            "counts": f"{done:,} of {total:,} steps · asked by {obj.created_by or '—'} on {utc_text(obj.created)}",
            "scope": _scope_text(obj),
            "difference": f"{obj.ledger_difference:+f}",
        }


def _scope_text(run: RecalcRun) -> str:
    if run.customer is not None:
        scope = f"customer {run.customer}"
    elif run.provider is not None:
        scope = f"provider {run.provider}"
    else:
        scope = f"{len(run.cdr_ids):,} selected CDR{'s' if len(run.cdr_ids) != 1 else ''}"
    if run.date is not None:
        scope += f", {run.date:%Y-%m-%d} (UTC)"
    elif run.start is not None and run.end is not None:
        scope += f", {utc_text(run.start)} to {utc_text(run.end)}"
    if run.release_reasons:
        scope += f", release reasons {', '.join(run.release_reasons)}"
    if run.min_duration is not None:
        scope += f", calls of {run.min_duration:,} s or more set to {run.new_duration:,} s"
    return scope


class CdrImportForm(forms.Form):
    file = forms.FileField(label="CSV file")
    columns = forms.CharField(required=False, max_length=500, widget=forms.TextInput(attrs={"class": "mono"}),
                              help_text=f"The field of each column, by position; '-' skips one. Empty: "
                                        f"{','.join(COLUMNS)}.")
    start_row = forms.IntegerField(label="Start row", min_value=1, initial=2,
                                   help_text="The first row read (2 skips one header line).")


class CdrImportView(CustomerCardView):
    """CDRs from a CSV file, rated and charged like the ingest API: every row checked, all or nothing."""

    tab = "cdr"
    write = True
    template_name = "cdrs/recalc_import.html"

    def get_tab_context(self, request: HttpRequest, customer: Customer) -> dict[str, Any]:
        return {"form": getattr(request, "_import_form", None) or CdrImportForm(), "columns": COLUMNS,
                **getattr(request, "_import_outcome", {})}

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        customer = get_object_or_404(Customer, pk=pk)
        try:
            if declared_too_large(request.META):
                raise RequestDataTooBig
            form = CdrImportForm(request.POST, request.FILES)
            valid = form.is_valid()
        except RequestDataTooBig:
            messages.error(request, too_large_message())
            return redirect("cdrs:cdr_import", customer.pk)
        if valid:
            data = form.cleaned_data
            try:
                source = spool(data["file"])
                result = cdrs_import_csv(source=source.file, columns=data["columns"] or None,
                                         start_row=data["start_row"], actor=request.user)
            except UploadTooLarge:
                form.add_error("file", too_large_message())
            except MappingError as error:
                form.add_error("columns", str(error))
            except ImportFileError as error:
                form.add_error("file", str(error))
            else:
                if not result.error_rows:
                    messages.success(request, result.summary)
                    return redirect("cdrs:cdr_tab", customer.pk)
                request._import_outcome = {  # type: ignore[attr-defined]
                    "result": result, "errors": [(row, name, " ".join(problems)) for row, fields in
                                                 result.errors.items() for name, problems in fields.items()]}
        request._import_form = form  # type: ignore[attr-defined]
        return render(request, self.template_name, {
            "object": customer, **self.get_extra_context(request, customer)})
