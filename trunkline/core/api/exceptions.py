"""API errors as DESIGN.md has them: {"detail": ..., "errors": {field: [messages]}}."""

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from trunkline.switch.regex import PatternError


class BulkValidationError(exceptions.APIException):
    """One or more objects or rows of a bulk request are invalid; nothing was written."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, errors: dict[str, Any]) -> None:
        super().__init__(detail)
        self.errors = errors


def as_api_error(error: DjangoValidationError) -> exceptions.ValidationError:
    """A service's ValidationError as the API reports it: field errors by field, others as non_field_errors."""
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError({("non_field_errors" if name == NON_FIELD_ERRORS else name): messages
                                           for name, messages in error.message_dict.items()})
    return exceptions.ValidationError({"non_field_errors": error.messages})


def _first_message(errors: Any) -> str | None:
    if isinstance(errors, dict):
        for key, value in errors.items():
            message = _first_message(value)
            if message:
                return message if key in ("non_field_errors", "detail") else f"{key}: {message}"
    elif isinstance(errors, list):
        for value in errors:
            message = _first_message(value)
            if message:
                return message
    elif errors:
        return str(errors)
    return None


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, PatternError):
        # A rule saved before patterns were checked as RE2 syntax (a look-ahead, say) stops the rules that the
        # Testing boxes and Simulate Call load: the message names the rule and field to correct.
        exc = exceptions.ValidationError({"non_field_errors": [f"A saved rule cannot be loaded: {exc}"]})
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    if isinstance(exc, BulkValidationError):
        return Response({"detail": str(exc.detail), "errors": exc.errors}, status=exc.status_code)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"detail": _first_message(errors) or "Invalid input.", "errors": errors}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"]), "errors": {}}
    return response


@csrf_exempt  # it writes nothing; a POST to a wrong URL gets its 404, not the CSRF page
def api_not_found(request: HttpRequest) -> HttpResponse:
    """Any /api/ URL no other route takes (/api/v1/customers/abc/), in the error format whatever DEBUG says:
    Django's own 404 is an HTML page (a debug page with DEBUG on). A URL lacking only its trailing slash is
    redirected as APPEND_SLASH does (this route takes the URL before CommonMiddleware could), for reads; a write
    would lose its body in a redirect, so it is told the URL instead."""
    if not request.path_info.endswith("/"):
        try:
            match = resolve(f"{request.path_info}/", getattr(request, "urlconf", None))
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            if request.method in ("GET", "HEAD"):
                return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
            return JsonResponse({"detail": f"Not found. The URL ends with a slash: {request.path}/", "errors": {}},
                                status=status.HTTP_404_NOT_FOUND)
    return JsonResponse({"detail": "Not found.", "errors": {}}, status=status.HTTP_404_NOT_FOUND)
