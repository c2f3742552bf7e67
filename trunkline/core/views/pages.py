import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from trunkline.core.models import UserPreference
from trunkline.core.tables import Table


def _table_classes() -> dict[str, type[Table]]:
    def walk(cls: type[Table]):
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    return {cls.__name__: cls for cls in walk(Table)}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("customers:customer_list")


@login_required
@require_POST
def table_preference(request: HttpRequest, table: str) -> HttpResponse:
    """Save (or reset) the visible columns and their order for one table, for this operator."""
    table_class = _table_classes().get(table)
    if table_class is None:
        return HttpResponseBadRequest(f"Unknown table {table}.")
    preference = UserPreference.for_user(request.user)
    if request.POST.get("reset"):
        preference.clear(table_class.preference_key())
        return JsonResponse({"columns": list(table_class.default_columns)})
    try:
        columns = json.loads(request.POST.get("columns", "[]"))
    except json.JSONDecodeError:
        return HttpResponseBadRequest("columns must be a JSON list of column names.")
    known = {column.name for column in table_class.columns}
    unknown = [name for name in columns if name not in known]
    if not isinstance(columns, list) or unknown:
        return HttpResponseBadRequest(f"Unknown columns: {', '.join(map(str, unknown))}.")
    preference.set(table_class.preference_key(), columns)
    return JsonResponse({"columns": columns})
