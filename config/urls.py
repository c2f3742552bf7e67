from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from trunkline.core.api.exceptions import api_not_found
from trunkline.routing import urls as routing_urls

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="core/login.html", redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("trunkline.core.urls")),
    path("customers/", include("trunkline.customers.urls")),
    path("routing/", include("trunkline.routing.urls")),
    path("customers/", include("trunkline.sipauth.urls")),
    path("customers/", include((routing_urls.card_urlpatterns, "customer_routing"))),
    path("", include("trunkline.cdrs.urls")),  # Dialogs, and the card's Dialogs tab under customers/
    path("", include("trunkline.ledger.urls")),  # the card's Ledger tab under customers/
    path("audit-log/", include("trunkline.audit.urls")),
    path("setup/", include("trunkline.notifications.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include(("config.api", "api"), namespace="api")),
    re_path(r"^api/", api_not_found),  # last: what no API route takes
]
