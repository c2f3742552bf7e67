from trunkline.audit import selectors
from trunkline.audit.filtersets import ObjectChangeFilterSet
from trunkline.audit.models import ObjectChange
from trunkline.audit.tables import ObjectChangeTable
from trunkline.core.views import generic


class ObjectChangeListView(generic.ObjectListView):
    queryset = ObjectChange.objects.select_related("object_type", "user")
    filterset = ObjectChangeFilterSet
    table = ObjectChangeTable
    template_name = "audit/objectchange_list.html"
    search_placeholder = "Search objects"
    default_ordering = ("-time", "-id")


class ObjectChangeView(generic.ObjectView):
    queryset = ObjectChange.objects.select_related("object_type", "user")
    template_name = "audit/objectchange.html"

    def get_extra_context(self, request, obj):
        # Values of a model only admins read (Setup > Settings) are masked for everyone else.
        return {"object": obj.seen_by(request.user), "related": selectors.changes_of_request(obj, limit=50)}
