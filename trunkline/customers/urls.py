from django.urls import path

from trunkline.customers import views

app_name = "customers"

urlpatterns = [
    path("", views.CustomerListView.as_view(), name="customer_list"),
    path("add/", views.CustomerEditView.as_view(), name="customer_add"),
    path("import/", views.CustomerBulkImportView.as_view(), name="customer_import"),
    path("edit/", views.CustomerBulkEditView.as_view(), name="customer_bulk_edit"),
    path("delete/", views.CustomerBulkDeleteView.as_view(), name="customer_bulk_delete"),
    path("<int:pk>/", views.CustomerView.as_view(), name="customer"),
    path("<int:pk>/edit/", views.CustomerEditView.as_view(), name="customer_edit"),
    path("<int:pk>/delete/", views.CustomerDeleteView.as_view(), name="customer_delete"),
]
