from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from trunkline.core.context import change_context


def client_ip(request: HttpRequest) -> str | None:
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
