from rest_framework.routers import DefaultRouter


class Router(DefaultRouter):
    """DefaultRouter whose list URL also takes PUT/PATCH (bulk edit) and DELETE (bulk delete)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        list_route = self.routes[0]
        bulk = {"put": "bulk_update", "patch": "bulk_partial_update", "delete": "bulk_destroy"}
        self.routes = [list_route._replace(mapping={**list_route.mapping, **bulk}), *self.routes[1:]]
