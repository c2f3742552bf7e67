from django.urls import path

from trunkline.sipauth import views

app_name = "sipauth"
urlpatterns = [
    path("<int:pk>/auth/", views.AuthTabView.as_view(), name="auth_tab"),
    path("<int:owner>/ip-auth/add/", views.IpAuthEditView.as_view(), name="ipauth_add"),
    path("<int:owner>/ip-auth/<int:pk>/edit/", views.IpAuthEditView.as_view(), name="ipauth_edit"),
    path("<int:owner>/ip-auth/<int:pk>/delete/", views.IpAuthDeleteView.as_view(), name="ipauth_delete"),
    path("ip-auth/<int:pk>/test/", views.IpAuthRewriteTestView.as_view(), name="ipauth_test"),
    path("<int:owner>/sip-users/add/", views.SipUserEditView.as_view(), name="sipuser_add"),
    path("<int:owner>/sip-users/<int:pk>/edit/", views.SipUserEditView.as_view(), name="sipuser_edit"),
    path("<int:owner>/sip-users/<int:pk>/delete/", views.SipUserDeleteView.as_view(), name="sipuser_delete"),
    path("sip-users/<int:pk>/test/", views.SipUserRewriteTestView.as_view(), name="sipuser_test"),
]
