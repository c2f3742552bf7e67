from django.urls import path

from trunkline.core.views import operators, pages

app_name = "core"

urlpatterns = [
    path("", pages.home, name="home"),
    path("preferences/tables/<str:table>/", pages.table_preference, name="table_preference"),
    path("operators/", operators.UserListView.as_view(), name="user_list"),
    path("operators/add/", operators.UserEditView.as_view(), name="user_add"),
    path("operators/<int:pk>/", operators.UserView.as_view(), name="user"),
    path("operators/<int:pk>/edit/", operators.UserEditView.as_view(), name="user_edit"),
    path("operators/<int:pk>/delete/", operators.UserDeleteView.as_view(), name="user_delete"),
]
