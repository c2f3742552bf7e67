from django.urls import path

from trunkline.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.ObjectChangeListView.as_view(), name="objectchange_list"),
    path("<int:pk>/", views.ObjectChangeView.as_view(), name="objectchange"),
]
