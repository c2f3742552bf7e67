from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request, clone_request

if TYPE_CHECKING:  # rest_framework.views imports this module (DEFAULT_METADATA_CLASS) while it loads
    from rest_framework.views import APIView


class Metadata(SimpleMetadata):
    """DRF's OPTIONS answer, on list URLs too.

    DRF describes PUT by fetching the object the URL names; on a list URL PUT is the bulk edit and names no
    object, so DRF's get_object() failed an assertion (a 500). There the fields are described from the
    serializer alone: a bulk edit takes a list of the same objects.
    """

    def determine_actions(self, request: Request, view: "APIView") -> dict[str, Any]:
        lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
        if not hasattr(view, "get_serializer") or lookup is None or lookup in view.kwargs:
            return super().determine_actions(request, view)
        actions: dict[str, Any] = {}
        for method in ("POST", "PUT"):
            if method not in view.allowed_methods:
                continue
            view.request = clone_request(request, method)
            try:
                view.check_permissions(view.request)
            except (exceptions.APIException, PermissionDenied, Http404):
                continue
            else:
                actions[method] = self.get_serializer_info(view.get_serializer())
            finally:
                view.request = request
        return actions
