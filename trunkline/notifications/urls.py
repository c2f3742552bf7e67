from django.urls import path

from trunkline.notifications import views

app_name = "notifications"

urlpatterns = [
    path("settings/", views.SettingsView.as_view(), name="settings"),
]
