"""Routing > Providers: the board, its bulk edit and delete, the edit form."""

from django.http import HttpRequest
from django.urls import reverse

from trunkline.core.views import generic
from trunkline.routing.filtersets import ProviderFilterSet
from trunkline.routing.forms import ProviderBulkEditForm, ProviderForm
from trunkline.routing.models import Provider
from trunkline.routing.services.providers import provider_save
from trunkline.routing.tables import ProviderTable


class ProviderListView(generic.ObjectListView):
    queryset = Provider.objects.all()
    filterset = ProviderFilterSet
    table = ProviderTable
    search_placeholder = "Search name, tech prefix, notes"
    status_field = "status"
    default_ordering = ("name",)


class ProviderEditView(generic.ObjectEditView):
    queryset = Provider.objects.all()
    form = ProviderForm
    template_name = "routing/provider_edit.html"  # the form under the provider's tabs (core.providertabs)

    def get_crumbs(self, obj: Provider) -> list[tuple[str, str]]:
        return [("Providers", reverse("routing:provider_list"))]

    def get_success_url(self, obj: Provider) -> str:
        return reverse("routing:provider_list")

    def save_form(self, request: HttpRequest, form: ProviderForm) -> Provider:
        return provider_save(provider=form.save(commit=False))


class ProviderBulkEditView(generic.BulkEditView):
    queryset = Provider.objects.all()
    form = ProviderBulkEditForm


class ProviderBulkDeleteView(generic.BulkDeleteView):
    """Tick providers on the board, then the bin: a provider that still has rate cards stops the whole delete."""

    queryset = Provider.objects.all()
