from django.urls import path

from trunkline.routing.views import providers, ratecards, routes, simulations

app_name = "routing"
urlpatterns = [
    path("providers/", providers.ProviderListView.as_view(), name="provider_list"),
    path("providers/add/", providers.ProviderEditView.as_view(), name="provider_add"),
    path("providers/<int:pk>/edit/", providers.ProviderEditView.as_view(), name="provider_edit"),
    path("providers/edit/", providers.ProviderBulkEditView.as_view(), name="provider_bulk_edit"),
    path("providers/delete/", providers.ProviderBulkDeleteView.as_view(), name="provider_bulk_delete"),
    path("rate-cards/", ratecards.RateCardListView.as_view(), name="ratecard_list"),
    path("rate-cards/add/", ratecards.RateCardEditView.as_view(), name="ratecard_add"),
    path("rate-cards/<int:pk>/", ratecards.RateCardView.as_view(), name="ratecard"),
    path("rate-cards/<int:pk>/edit/", ratecards.RateCardEditView.as_view(), name="ratecard_edit"),
    path("rate-cards/<int:pk>/delete/", ratecards.RateCardDeleteView.as_view(), name="ratecard_delete"),
    path("rate-cards/<int:pk>/import/", ratecards.RateImportView.as_view(), name="ratecard_import"),
    path("imports/<int:pk>/", ratecards.RateImportStatusView.as_view(), name="rate_import"),
    path("rate-cards/<int:pk>/export/", ratecards.RateCardExportView.as_view(), name="ratecard_export"),
    path("rate-cards/<int:pk>/rollback/", ratecards.RateCardRollbackView.as_view(), name="ratecard_rollback"),
    path("revisions/<int:pk>/activate/", ratecards.RevisionActivateView.as_view(), name="raterevision_activate"),
    path("simulate/", simulations.SimulateView.as_view(), name="simulate"),
    path("simulations/<int:pk>/", simulations.SimulationView.as_view(), name="simulation"),
]

# The customer card's Routing and Latest Calls tabs and the Routing tab's forms: under /customers/, beside the Auth
# tab, in their own namespace (config/urls.py includes them as "customer_routing").
card_urlpatterns = [
    path("<int:pk>/routing/", routes.RoutingTabView.as_view(), name="routing_tab"),
    path("<int:pk>/latest-calls/", simulations.LatestCallsTabView.as_view(), name="latest_calls_tab"),
    path("<int:owner>/ingress-routes/add/", routes.IngressRouteEditView.as_view(), name="ingressroute_add"),
    path("<int:owner>/ingress-routes/<int:pk>/edit/", routes.IngressRouteEditView.as_view(), name="ingressroute_edit"),
    path("<int:owner>/ingress-routes/<int:pk>/delete/", routes.IngressRouteDeleteView.as_view(),
         name="ingressroute_delete"),
    path("<int:owner>/cli-rules/add/", routes.CliRuleEditView.as_view(), name="clirule_add"),
    path("<int:owner>/cli-rules/<int:pk>/edit/", routes.CliRuleEditView.as_view(), name="clirule_edit"),
    path("<int:owner>/cli-rules/<int:pk>/delete/", routes.CliRuleDeleteView.as_view(), name="clirule_delete"),
]
