from django.urls import path

from trunkline.notifications import views

app_name = "notifications"

urlpatterns = [
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("jobs/", views.JobListView.as_view(), name="jobs"),
    path("jobs/<int:pk>/retry/", views.JobRetryView.as_view(), name="job_retry"),
]
