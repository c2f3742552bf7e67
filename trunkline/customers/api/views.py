from trunkline.core.api.viewsets import BaseModelViewSet
from trunkline.customers.api.serializers import CustomerSerializer
from trunkline.customers.filtersets import CustomerFilterSet
from trunkline.customers.models import Customer


class CustomerViewSet(BaseModelViewSet):
    queryset = Customer.objects.all()
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilterSet
    import_required_columns = ("name", "currency")
