from django.db.models import Q

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
        related = ObjectChange.objects.filter(Q(request_id=obj.request_id) & ~Q(pk=obj.pk)).select_related(
            "object_type")[:50]
        return {"related": related}
