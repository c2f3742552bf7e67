from trunkline.audit.models import ObjectChange
from trunkline.core.views import generic
from trunkline.customers.api.serializers import CustomerSerializer
from trunkline.customers.filtersets import CustomerFilterSet
from trunkline.customers.forms import CustomerBulkEditForm, CustomerForm
from trunkline.customers.models import Customer
from trunkline.customers.tables import CustomerTable


class CustomerListView(generic.ObjectListView):
    queryset = Customer.objects.all()
    filterset = CustomerFilterSet
    table = CustomerTable
    search_placeholder = "Search name, email, website, tags, address"
    status_field = "status"
    default_ordering = ("name",)


class CustomerView(generic.ObjectView):
    queryset = Customer.objects.all()
    template_name = "customers/customer.html"

    def get_extra_context(self, request, obj):
        changes = ObjectChange.objects.filter(object_type__app_label="customers", object_type__model="customer",
                                              object_id=obj.pk).select_related("user")[:20]
        return {"changes": changes}


class CustomerEditView(generic.ObjectEditView):
    queryset = Customer.objects.all()
    form = CustomerForm


class CustomerDeleteView(generic.ObjectDeleteView):
    queryset = Customer.objects.all()


class CustomerBulkImportView(generic.BulkImportView):
    model = Customer
    serializer_class = CustomerSerializer
    required_columns = ("name", "currency")


class CustomerBulkEditView(generic.BulkEditView):
    queryset = Customer.objects.all()
    form = CustomerBulkEditForm


class CustomerBulkDeleteView(generic.BulkDeleteView):
    queryset = Customer.objects.all()
