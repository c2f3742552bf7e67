from django.urls import path

from trunkline.core.views import pages

app_name = "core"

urlpatterns = [
    path("", pages.home, name="home"),
    path("preferences/tables/<str:table>/", pages.table_preference, name="table_preference"),
]
