"""Generic control-panel views, NetBox-shaped and lighter: an app's views only declare what they show.

Every write runs in one transaction and goes through the model's full_clean() and save(), so the
audit log and the validation run whatever the path (one object, bulk edit, bulk delete, import).
"""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, ValidationError
from django.core.paginator import Paginator
from django.db import models, transaction
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import NoReverseMatch, reverse
from django.utils.text import slugify
from django.views import View
from rest_framework import serializers

from trunkline.core.bulk_import import (
    BACKGROUND_IMPORT_ROWS,
    IMPORT_JOB,
    ImportFileError,
    Source,
    decode_upload,
    import_csv,
    import_start,
)
from trunkline.core.csv_safety import safe_row
from trunkline.core.integers import ascii_int
from trunkline.core.locking import keep_untouched_fields, lock_rows, post_initial_values, show_as_posted
from trunkline.core.models import Job, UserPreference
from trunkline.core.tables import Table
from trunkline.core.uploads import (
    UploadTooLarge,
    count_lines,
    declared_too_large,
    format_size,
    spool,
    too_large_message,
    upload_limit,
)
from trunkline.core.views.mixins import RoleRequiredMixin

PER_PAGE_CHOICES = (25, 50, 100, 250)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _url_name(model: type[models.Model], action: str = "") -> str:
    name = model._meta.model_name
    return f"{model._meta.app_label}:{name}_{action}" if action else f"{model._meta.app_label}:{name}"


class ObjectListView(RoleRequiredMixin, View):
    """The board: search, filters, columns, sorting, row groups, pagination, CSV export, bulk actions."""

    queryset: models.QuerySet
    filterset: type
    table: type[Table]
    template_name = "core/object_list.html"
    search_placeholder = "Search"
    status_field: str | None = None  # a choice field offered as the quick drop-down beside the delete button
    default_ordering: tuple[str, ...] = ()

    def get(self, request: HttpRequest) -> HttpResponse:
        model = self.queryset.model
        filterset = self.filterset(_without_blanks(request.GET), queryset=self.queryset, request=request)
        queryset = filterset.qs if filterset.is_valid() else self.queryset.none()
        table = self.table(UserPreference.lookup(request.user, self.table.preference_key()))

        ordering = request.GET.get("ordering", "")
        order_field = table.orderable.get(ordering.lstrip("-"))
        if order_field:
            direction = "-" if ordering.startswith("-") else ""
            # The pk tie-break follows the column's direction, so one (column, id) index serves the sort
            # both ways (read backwards for descending); a mixed direction would need an index per direction.
            queryset = queryset.order_by(f"{direction}{order_field}", f"{direction}pk")
        elif self.default_ordering:
            queryset = queryset.order_by(*self.default_ordering)

        group_column = table.by_name.get(request.GET.get("group_by", ""))
        if group_column is not None and not group_column.groupable:
            group_column = None

        if request.GET.get("export") == "csv":
            return self.export_csv(table, queryset, group_column)

        context: dict[str, Any] = {
            "model": model,
            "verbose_name": model._meta.verbose_name,
            "verbose_name_plural": model._meta.verbose_name_plural,
            "table": table,
            "filterset": filterset,
            "filter_form": filterset.form,
            "active_filters": _active_filters(filterset),
            "filter_errors": _filter_errors(filterset),
            "ordering": ordering,
            "search": request.GET.get("q", ""),
            "search_placeholder": self.search_placeholder,
            "group_column": group_column,
            "urls": self.urls(model),
            "preference_url": reverse("core:table_preference", args=[self.table.__name__]),
        }
        if self.status_field:
            field = model._meta.get_field(self.status_field)
            context["status_field"] = self.status_field
            context["status_choices"] = field.choices
            context["status_value"] = request.GET.get(self.status_field, "")
        if group_column is not None:
            grouped = table.group(queryset, group_column)
            group_filter = filterset.filters.get(group_column.name)
            # A group links to its rows only through a filter of the grouped field itself: the rate cards' Provider
            # column groups by provider__name, while the `provider` filter takes ids.
            if group_filter is not None and group_filter.field_name == group_column.order_by:
                for group in grouped.groups:
                    if group["value"] in (None, ""):
                        continue  # "(blank)" has no filter value that selects it
                    query = request.GET.copy()
                    query.pop("group_by", None)
                    query[group_column.name] = _query_value(group["value"])
                    group["url"] = f"?{query.urlencode()}"
            context.update(grouped=grouped, groups=grouped.groups, numeric_columns=grouped.numeric,
                           total=grouped.count)
        else:
            per_page = _int(request.GET.get("per_page"), 50)
            per_page = per_page if per_page in PER_PAGE_CHOICES else 50
            page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
            context.update(page=page, rows=table.rows(page.object_list), per_page=per_page,
                           per_page_choices=PER_PAGE_CHOICES, total=page.paginator.count)
        return render(request, self.template_name, context)

    def urls(self, model: type[models.Model]) -> dict[str, str]:
        """The list's actions that this model has URLs for (add, import, bulk edit, bulk delete)."""
        urls = {}
        for action in ("list", "add", "import", "bulk_edit", "bulk_delete"):
            try:
                urls[action] = reverse(_url_name(model, action))
            except NoReverseMatch:
                continue
        return urls

    def export_csv(self, table: Table, queryset: models.QuerySet, group_column) -> StreamingHttpResponse:
        # Every cell through safe_row(): names and notes are typed by operators and customers, and the file is
        # opened in spreadsheets, which would run a cell such as =HYPERLINK(...) as a formula.
        writer = csv.writer(_Echo())
        if group_column is not None:
            grouped = table.group(queryset, group_column)
            header = [group_column.label, "Count"]
            for column in grouped.numeric:
                header += [f"{column.label} (sum)", f"{column.label} (average)"]
            lines = [header]
            for group in grouped.groups:
                line = [group["label"], group["count"]]
                for _, total, average in group["aggregates"]:
                    line += [total, average]
                lines.append(line)
            rows = (writer.writerow(safe_row(line)) for line in lines)
        else:
            def generate():
                yield writer.writerow([column.name for column in table.visible])
                for obj in queryset.iterator(chunk_size=2000):
                    yield writer.writerow(safe_row(column.export(obj) for column in table.visible))

            rows = generate()
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        filename = slugify(queryset.model._meta.verbose_name_plural)
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response


class ObjectView(RoleRequiredMixin, View):
    queryset: models.QuerySet
    template_name: str

    def get_extra_context(self, request: HttpRequest, obj: models.Model) -> dict[str, Any]:
        return {}

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(self.queryset, pk=pk)
        context = {"object": obj, "model": self.queryset.model, **self.get_extra_context(request, obj)}
        return render(request, self.template_name, context)


class ObjectEditView(RoleRequiredMixin, View):
    """Add (no pk) or edit (pk) one object through a ModelForm.

    A view whose writes go through a service overrides save_form(); a ValidationError it raises is shown on the
    form (on the field it names), and nothing is written.
    """

    write = True
    queryset: models.QuerySet
    form: type
    template_name = "core/object_edit.html"

    def get_object(self, pk: int | None) -> models.Model:
        if pk is None:
            return self.queryset.model()
        obj = get_object_or_404(self.queryset, pk=pk)
        obj.snapshot()
        return obj

    def get_form(self, request: HttpRequest, obj: models.Model, data: QueryDict | None = None) -> Any:
        # On add, the query string presets fields (?customer=5); a preset that the form disables stays fixed
        # on POST too, so the initial values go in both times.
        initial = request.GET.dict() if obj.pk is None else None
        return self.form(data, instance=obj, initial=initial)

    def save_form(self, request: HttpRequest, form: Any) -> models.Model:
        return form.save()

    def get_crumbs(self, obj: models.Model) -> list[tuple[str, str]]:
        """The trail above the heading, as (label, URL) pairs."""
        model = self.queryset.model
        crumbs = [(str(model._meta.verbose_name_plural).capitalize(), reverse(_url_name(model, "list")))]
        if obj.pk:
            crumbs.append((str(obj), obj.get_absolute_url()))
        return crumbs

    def get_return_url(self, obj: models.Model) -> str:
        return obj.get_absolute_url() if obj.pk else reverse(_url_name(self.queryset.model, "list"))

    def get_success_url(self, obj: models.Model) -> str:
        return obj.get_absolute_url()

    def render_form(self, request: HttpRequest, obj: models.Model, form) -> HttpResponse:
        model = self.queryset.model
        return render(request, self.template_name, {
            "object": obj,
            "model": model,
            "form": form,
            "verbose_name": model._meta.verbose_name,
            "verbose_name_plural": model._meta.verbose_name_plural,
            "crumbs": self.get_crumbs(obj),
            "return_url": self.get_return_url(obj),
        })

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object(pk)
        form = self.get_form(request, obj)
        post_initial_values(form)
        return self.render_form(request, obj, form)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        # Read, validated and written in one transaction on the locked row: the form starts from the stored state,
        # not from the one the page was drawn with.
        with transaction.atomic():
            if pk is not None:
                lock_rows(self.queryset.model, [pk])
            obj = self.get_object(pk)
            created = obj.pk is None
            form = self.get_form(request, obj, request.POST)
            post_initial_values(form)
            untouched = keep_untouched_fields(form)
            saved = False
            if form.is_valid():
                try:
                    with transaction.atomic():
                        obj = self.save_form(request, form)
                    saved = True
                except ValidationError as error:
                    if created:
                        # The insert was rolled back, but the instance kept the pk it was given: it is still new.
                        obj.pk = None
                        obj._state.adding = True
                    add_errors(form, error)
        if not saved:
            show_as_posted(form, untouched)
            return self.render_form(request, obj, form)
        verb = "Created" if created else "Saved"
        messages.success(request, f"{verb} {obj._meta.verbose_name} {obj}.")
        return redirect(self.get_success_url(obj))


def add_errors(form: Any, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names, else above the form with the field's
    name (a note refused for holding the password, on a form without notes, still says which note)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, messages_ in error.message_dict.items():
        if name in form.fields:
            form.add_error(name, messages_)
        elif name == NON_FIELD_ERRORS:
            form.add_error(None, messages_)
        else:
            label = name.replace("_", " ").capitalize()
            form.add_error(None, [f"{label}: {message}" for message in messages_])


class ObjectDeleteView(RoleRequiredMixin, View):
    """Confirm, then delete (or, with another `verb`, release or detach) one object."""

    write = True
    queryset: models.QuerySet
    template_name = "core/object_delete.html"
    verb = "Delete"
    consequence = "This cannot be undone. The deletion is kept in the audit log."

    def refusal(self, request: HttpRequest, obj: models.Model) -> str | None:
        """Why this object may not be deleted by this operator, if it may not."""
        return None

    def delete_object(self, obj: models.Model) -> None:
        obj.delete()

    def get_object(self, pk: int) -> models.Model:
        return get_object_or_404(self.queryset, pk=pk)

    def get_crumbs(self, obj: models.Model) -> list[tuple[str, str]]:
        return []

    def get_return_url(self, obj: models.Model) -> str:
        """Where Cancel leads."""
        return obj.get_absolute_url()

    def get_success_url(self, obj: models.Model) -> str:
        return reverse(_url_name(self.queryset.model, "list"))

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        if reason := self.refusal(request, obj):
            messages.error(request, reason)
            return redirect(obj.get_absolute_url())
        return render(request, self.template_name, {"object": obj, "model": self.queryset.model,
                                                    "verbose_name": obj._meta.verbose_name, "verb": self.verb,
                                                    "consequence": self.consequence,
                                                    "crumbs": self.get_crumbs(obj),
                                                    "return_url": self.get_return_url(obj)})

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = self.get_object(pk)
        if reason := self.refusal(request, obj):
            messages.error(request, reason)
            return redirect(obj.get_absolute_url())
        name = str(obj)
        success_url = self.get_success_url(obj)
        try:
            with transaction.atomic():
                self.delete_object(obj)
        except ProtectedError as error:
            messages.error(request, f"{name} cannot be {self.verb.lower()}d: {error.args[0]}")
            return redirect(obj.get_absolute_url())
        messages.success(request, f"{self.verb}d {obj._meta.verbose_name} {name}.")
        return redirect(success_url)


def _selected_ids(request: HttpRequest) -> list[int]:
    return [number for pk in request.POST.getlist("pk") if (number := ascii_int(pk)) is not None]


def _selected(request: HttpRequest, queryset: models.QuerySet) -> models.QuerySet:
    return queryset.filter(pk__in=_selected_ids(request))


class BulkEditView(RoleRequiredMixin, View):
    """Change the same fields on the selected objects: each is validated and saved on its own (audit log runs),
    all in one transaction, so one invalid object means none is changed."""

    write = True
    queryset: models.QuerySet
    form: type
    template_name = "core/bulk_edit.html"

    def post(self, request: HttpRequest) -> HttpResponse:
        model = self.queryset.model
        list_url = reverse(_url_name(model, "list"))
        form = self.form(request.POST if "_apply" in request.POST else None)
        errors: list[str] = []
        objects: list[models.Model] = []
        if "_apply" in request.POST and form.is_valid():
            try:
                with transaction.atomic():
                    # Locked in key order, then read: each object changes from its stored state, and two bulk
                    # edits of the same rows take turns instead of deadlocking.
                    lock_rows(model, _selected_ids(request))
                    objects = list(_selected(request, self.queryset))
                    for obj in objects:
                        obj.snapshot()
                        form.apply(obj)
                        try:
                            obj.full_clean()
                        except ValidationError as error:
                            errors = [f"{obj}: {field}: {' '.join(msgs)}" for field, msgs in
                                      error.message_dict.items()]
                            raise
                        obj.save()
            except ValidationError:
                pass
            else:
                if objects:
                    messages.success(request, f"Updated {len(objects)} {model._meta.verbose_name_plural}.")
                    return redirect(request.POST.get("return_url") or list_url)
        else:
            objects = list(_selected(request, self.queryset))
        if not objects:
            messages.warning(request, f"Select at least one {model._meta.verbose_name} to edit.")
            return redirect(list_url)
        return render(request, self.template_name, {
            "model": model, "objects": objects, "form": form, "errors": errors,
            "verbose_name": model._meta.verbose_name, "verbose_name_plural": model._meta.verbose_name_plural,
            "return_url": request.POST.get("return_url") or list_url,
        })


class BulkDeleteView(RoleRequiredMixin, View):
    write = True
    queryset: models.QuerySet
    template_name = "core/bulk_delete.html"

    def post(self, request: HttpRequest) -> HttpResponse:
        model = self.queryset.model
        objects = list(_selected(request, self.queryset))
        list_url = reverse(_url_name(model, "list"))
        if not objects:
            messages.warning(request, f"Select at least one {model._meta.verbose_name} to delete.")
            return redirect(list_url)
        if "_confirm" in request.POST:
            try:
                with transaction.atomic():
                    lock_rows(model, [obj.pk for obj in objects])  # in key order: no deadlock with another
                    for obj in objects:
                        obj.delete()
            except ProtectedError as error:
                messages.error(request, f"Nothing was deleted: {error.args[0]}")
                return redirect(list_url)
            messages.success(request, f"Deleted {len(objects)} {model._meta.verbose_name_plural}.")
            return redirect(request.POST.get("return_url") or list_url)
        return render(request, self.template_name, {
            "model": model, "objects": objects, "verbose_name_plural": model._meta.verbose_name_plural,
            "return_url": request.POST.get("return_url") or list_url,
        })


class BulkImportView(RoleRequiredMixin, View):
    """Paste or upload CSV, see a preview (dry run), then confirm: all rows are written or none."""

    write = True
    model: type[models.Model]
    serializer_class: type
    required_columns: tuple[str, ...] = ()
    template_name = "core/bulk_import.html"

    def context(self, **extra: Any) -> dict[str, Any]:
        columns = [{"name": name, "hint": _column_hint(field)}
                   for name, field in self.serializer_class().fields.items() if not field.read_only]
        return {
            "model": self.model,
            "verbose_name": self.model._meta.verbose_name,
            "verbose_name_plural": self.model._meta.verbose_name_plural,
            "columns": columns,
            "required_columns": self.required_columns,
            "list_url": reverse(_url_name(self.model, "list")),
            "upload_limit": format_size(upload_limit()),
            "background_rows": f"{BACKGROUND_IMPORT_ROWS:,}",
            **extra,
        }

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.GET.get("template"):
            names = [name for name, field in self.serializer_class().fields.items() if not field.read_only]
            response = HttpResponse(",".join(names) + "\r\n", content_type="text/csv; charset=utf-8")
            filename = slugify(self.model._meta.verbose_name_plural)
            response["Content-Disposition"] = f'attachment; filename="{filename}-template.csv"'
            return response
        return render(request, self.template_name, self.context())

    def post(self, request: HttpRequest) -> HttpResponse:
        if declared_too_large(request.META):
            return self.refuse(request, too_large_message())
        try:
            upload = request.FILES.get("file")
            pasted = request.POST.get("csv", "")
        except RequestDataTooBig:  # pasted text over DATA_UPLOAD_MAX_MEMORY_SIZE (the upload limit)
            return self.refuse(request, too_large_message())
        source: Source = pasted
        lines = count_lines(pasted)
        if upload:
            try:
                spooled = spool(upload)
            except UploadTooLarge as error:
                return self.refuse(request, str(error))
            source, lines = spooled.file, spooled.lines
        confirm = "_confirm" in request.POST
        if lines >= BACKGROUND_IMPORT_ROWS:
            job = import_start(serializer_class=self.serializer_class, source=source, rows=max(lines - 1, 0),
                               required_columns=self.required_columns, dry_run=not confirm, user=request.user)
            return redirect(reverse(_url_name(self.model, "import_status"), args=[job.pk]))
        try:
            result = import_csv(serializer_class=self.serializer_class, source=source, context={"request": request},
                                required_columns=self.required_columns, dry_run=not confirm)
            # Under BACKGROUND_IMPORT_ROWS lines: small enough to go back into the form, so Import after Preview
            # sends the same rows.
            if upload:
                spooled.file.seek(0)
            text = decode_upload(spooled.file.read()) if upload else pasted
        except ImportFileError as error:
            return self.refuse(request, str(error))
        if result.written:
            messages.success(request, result.summary)
            return HttpResponseRedirect(reverse(_url_name(self.model, "list")))
        return render(request, self.template_name, self.context(result=result, csv_text=text))

    def refuse(self, request: HttpRequest, message: str) -> HttpResponse:
        return render(request, self.template_name, self.context(file_error=message))


class BulkImportStatusView(RoleRequiredMixin, View):
    """A large import the worker runs: progress while it runs (the page refreshes itself), then the outcome."""

    write = True  # the outcome quotes the file's cells: for those who may import
    model: type[models.Model]
    template_name = "core/bulk_import_status.html"

    def get(self, request: HttpRequest, job: int) -> HttpResponse:
        job_ = get_object_or_404(Job, pk=job, kind=IMPORT_JOB, payload__model=self.model._meta.label_lower)
        payload, result = job_.payload, job_.payload.get("result")
        progress = import_progress(job=job_, rows=payload["rows"], finished=result is not None)
        # A dry run only reads and checks; an import then writes every row (the progress counts both halves).
        counts = f"{progress['read']:,} of {payload['rows']:,} row{pluralize(payload['rows'])} read and checked"
        if not payload["dry_run"]:
            counts += f", {progress['written']:,} written"
        if result is not None and result["error_rows"]:
            progress["heading"] = "Finished: nothing was imported"
        return render(request, self.template_name, {
            **progress, "result": result, "dry_run": payload["dry_run"], "counts": counts,
            "verbose_name_plural": self.model._meta.verbose_name_plural,
            "list_url": reverse(_url_name(self.model, "list")),
            "import_url": reverse(_url_name(self.model, "import")),
            "errors": [(row, name, " ".join(problems)) for row, fields in (result or {}).get("errors", {}).items()
                       for name, problems in fields.items()],
        })


def import_progress(*, job: Job | None, rows: int, finished: bool) -> dict[str, Any]:
    """The progress of an import the worker runs, for core/includes/import_progress.html: its job counts rows read
    (and checked), then rows read plus rows written."""
    total = job.progress_total if job else 0
    done = total if finished else (job.progress_done if job else 0)
    failed = not finished and job is not None and job.status == Job.Status.FAILED
    waiting = job is not None and job.status == Job.Status.QUEUED and not done
    written = max(done - rows, 0)
    heading = ("Finished" if finished else "Stopped" if failed else "Waiting for the worker…" if waiting
               else "Writing the rows…" if written else "Reading the rows…")
    return {"job": job, "done": done, "total": total, "percent": min(round(100 * done / total), 100) if total else 100,
            "read": min(done, rows), "written": written, "failed": failed, "waiting": waiting,
            "running": not finished and not failed, "heading": heading}


def _column_hint(field: Any) -> str:
    """What a CSV cell of this API field may hold, for the upload page."""
    if field.help_text:
        return str(field.help_text)
    if isinstance(field, serializers.BooleanField):
        return "true or false"
    if isinstance(field, serializers.ChoiceField) and len(field.choices) <= 10:
        return "one of " + ", ".join(str(value) for value in field.choices)
    if isinstance(field, serializers.ChoiceField):
        return "a code (ISO)"
    if isinstance(field, serializers.ListField):
        return "comma-separated"
    if isinstance(field, serializers.DecimalField):
        return "a number such as 1500.50"
    if isinstance(field, serializers.IntegerField):
        return "a whole number"
    return ""


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _without_blanks(query: QueryDict) -> QueryDict:
    """A blank parameter (status=, from a form's "All" choice) means no filter, not an invalid one."""
    cleaned = query.copy()
    for key in list(cleaned):
        values = [value for value in cleaned.getlist(key) if value.strip()]
        if values:
            cleaned.setlist(key, values)
        else:
            del cleaned[key]
    return cleaned


def _filter_errors(filterset) -> list[str]:
    """Filters that could not be applied, said plainly rather than shown as an empty list."""
    if not filterset.is_bound or filterset.is_valid():
        return []
    return [f"{filterset.form.fields[name].label or name}: {' '.join(errors)}"
            for name, errors in filterset.form.errors.items()]


def _active_filters(filterset) -> list[dict[str, str]]:
    """The filters in use, as chips with a link that removes each."""
    active = []
    if not filterset.is_bound or not filterset.is_valid():
        return active
    for name, value in filterset.form.cleaned_data.items():
        if name == "q" or value in (None, "", []) or (hasattr(value, "__len__") and not len(value)):
            continue
        field = filterset.form.fields[name]
        if isinstance(value, list | tuple):
            choices = dict(getattr(field, "choices", ()))
            shown = ", ".join(str(choices.get(v, v)) for v in value)
        elif hasattr(field, "choices"):
            shown = str(dict(field.choices).get(value, value))
        else:
            shown = str(value)
        active.append({"name": name, "label": field.label or name, "value": shown})
    return active
