import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from trunkline.core.context import change_context


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, for the audit log and login throttling. Behind the TLS proxy (TRUNKLINE_HTTPS) it is
    the address the proxy saw, which the proxy appends last to X-Forwarded-For; entries before it are whatever the
    client sent and are not trusted."""
    if settings.TRUNKLINE_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:  # no header, or not an address: the connection's own
            pass
    return request.META.get("REMOTE_ADDR")


class ChangeContextMiddleware:
    """Every request runs inside a change context and answers with its request id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        source = "api" if request.path.startswith("/api/") else "web"
        with change_context(source=source, request=request, ip=client_ip(request)) as context:
            request.id = context.request_id
            response = self.get_response(request)
        response["X-Request-ID"] = str(context.request_id)
        return response
