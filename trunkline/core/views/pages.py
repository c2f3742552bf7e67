import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
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


def login_locked_out(request: HttpRequest, original_response: HttpResponse | None,
                     credentials: dict[str, Any] | None) -> HttpResponse:
    """The login page saying why it refuses (django-axes calls this once a username and address pair is locked
    out), instead of axes's bare text. 429: the same answer whatever the password, so it tells an attacker nothing
    about it."""
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    message = (f"Too many failed logins for this username from your address: logging in is blocked for "
               f"{minutes} minute{pluralize(minutes)}. An admin can lift it sooner with "
               f"the command trunkline axes_reset_username.")
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    return render(request, "core/login.html", {"form": form, "locked_out": message,
                                               "next": request.POST.get("next", "")}, status=429)
