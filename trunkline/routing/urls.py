from django.urls import path

from trunkline.routing import views

app_name = "routing"
urlpatterns = [
    path("providers/", views.ProviderListView.as_view(), name="provider_list"),
    path("providers/add/", views.ProviderEditView.as_view(), name="provider_add"),
    path("providers/<int:pk>/edit/", views.ProviderEditView.as_view(), name="provider_edit"),
    path("providers/edit/", views.ProviderBulkEditView.as_view(), name="provider_bulk_edit"),
    path("providers/delete/", views.ProviderBulkDeleteView.as_view(), name="provider_bulk_delete"),
    path("rate-cards/", views.RateCardListView.as_view(), name="ratecard_list"),
    path("rate-cards/add/", views.RateCardEditView.as_view(), name="ratecard_add"),
    path("rate-cards/<int:pk>/", views.RateCardView.as_view(), name="ratecard"),
    path("rate-cards/<int:pk>/edit/", views.RateCardEditView.as_view(), name="ratecard_edit"),
    path("rate-cards/<int:pk>/delete/", views.RateCardDeleteView.as_view(), name="ratecard_delete"),
    path("rate-cards/<int:pk>/import/", views.RateImportView.as_view(), name="ratecard_import"),
    path("imports/<int:pk>/", views.RateImportStatusView.as_view(), name="rate_import"),
    path("rate-cards/<int:pk>/export/", views.RateCardExportView.as_view(), name="ratecard_export"),
    path("rate-cards/<int:pk>/rollback/", views.RateCardRollbackView.as_view(), name="ratecard_rollback"),
    path("revisions/<int:pk>/activate/", views.RevisionActivateView.as_view(), name="raterevision_activate"),
    path("simulate/", views.SimulateView.as_view(), name="simulate"),
    path("simulations/<int:pk>/", views.SimulationView.as_view(), name="simulation"),
]

# The customer card's Routing and Latest Calls tabs and the Routing tab's forms: under /customers/, beside the Auth
# tab, in their own namespace (config/urls.py includes them as "customer_routing").
card_urlpatterns = [
    path("<int:pk>/routing/", views.RoutingTabView.as_view(), name="routing_tab"),
    path("<int:pk>/latest-calls/", views.LatestCallsTabView.as_view(), name="latest_calls_tab"),
    path("ingress-routes/add/", views.IngressRouteEditView.as_view(), name="ingressroute_add"),
    path("ingress-routes/<int:pk>/edit/", views.IngressRouteEditView.as_view(), name="ingressroute_edit"),
    path("ingress-routes/<int:pk>/delete/", views.IngressRouteDeleteView.as_view(), name="ingressroute_delete"),
    path("cli-rules/add/", views.CliRuleEditView.as_view(), name="clirule_add"),
    path("cli-rules/<int:pk>/edit/", views.CliRuleEditView.as_view(), name="clirule_edit"),
    path("cli-rules/<int:pk>/delete/", views.CliRuleDeleteView.as_view(), name="clirule_delete"),
]
