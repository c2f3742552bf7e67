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
    path("rate-cards/<int:pk>/export/", views.RateCardExportView.as_view(), name="ratecard_export"),
    path("rate-cards/<int:pk>/rollback/", views.RateCardRollbackView.as_view(), name="ratecard_rollback"),
    path("revisions/<int:pk>/activate/", views.RevisionActivateView.as_view(), name="raterevision_activate"),
]
