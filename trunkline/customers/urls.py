from django.urls import path

from trunkline.customers import views

app_name = "customers"

urlpatterns = [
    path("", views.CustomerListView.as_view(), name="customer_list"),
    path("add/", views.CustomerEditView.as_view(), name="customer_add"),
    path("import/", views.CustomerBulkImportView.as_view(), name="customer_import"),
    path("import/<int:job>/", views.CustomerBulkImportStatusView.as_view(), name="customer_import_status"),
    path("edit/", views.CustomerBulkEditView.as_view(), name="customer_bulk_edit"),
    path("delete/", views.CustomerBulkDeleteView.as_view(), name="customer_bulk_delete"),
    path("send/", views.CustomerSendView.as_view(), name="customer_send"),
    path("<int:pk>/", views.CustomerView.as_view(), name="customer"),
    path("<int:pk>/audit-log/", views.CustomerAuditView.as_view(), name="customer_audit"),
    path("<int:pk>/edit/", views.CustomerEditView.as_view(), name="customer_edit"),
    path("<int:pk>/delete/", views.CustomerDeleteView.as_view(), name="customer_delete"),
    path("<int:pk>/number-blocks/assign/", views.NumberBlockAssignView.as_view(), name="numberblock_assign"),
    path("number-blocks/<int:pk>/release/", views.NumberBlockReleaseView.as_view(), name="numberblock_release"),
    path("<int:owner>/contacts/add/", views.ContactEditView.as_view(), name="contact_add"),
    path("<int:owner>/contacts/<int:pk>/edit/", views.ContactEditView.as_view(), name="contact_edit"),
    path("<int:owner>/contacts/<int:pk>/delete/", views.ContactDeleteView.as_view(), name="contact_delete"),
    path("contacts/<int:pk>/password/", views.ContactPasswordView.as_view(), name="contact_password"),
    path("messages/<int:pk>/", views.MessageView.as_view(), name="message"),
]
