from django.urls import path

from trunkline.audit.api.views import ObjectChangeViewSet
from trunkline.cdrs.api.cdrs import CdrViewSet
from trunkline.cdrs.api.ingest import CdrIngestView
from trunkline.cdrs.api.recalc import CdrImportView, RecalcRunViewSet, RecalcView
from trunkline.cdrs.api.stats import StatsView
from trunkline.cdrs.api.views import CallRecordViewSet, DialogViewSet
from trunkline.core.api.routers import Router
from trunkline.customers.api.views import (
    ContactViewSet,
    CustomerViewSet,
    MessageDeliveryViewSet,
    MessageViewSet,
    NumberBlockViewSet,
)
from trunkline.ledger.api.views import AdjustBalanceView, LedgerEntryViewSet
from trunkline.notifications.api.jobs import JobViewSet
from trunkline.notifications.api.views import SettingsTestEmailView, SettingsTestSmsView, SettingsView
from trunkline.routing.api.simulate import RoutingSnapshotView, SimulatedCallViewSet, SimulateView
from trunkline.routing.api.views import (
    CliRuleViewSet,
    IngressRouteViewSet,
    ProviderViewSet,
    RateCardViewSet,
    RateRevisionViewSet,
    RateViewSet,
)
from trunkline.sipauth.api.views import IpAuthViewSet, ParameterRewriteViewSet, SipUserViewSet

router = Router()
router.register("customers", CustomerViewSet)
router.register("contacts", ContactViewSet)
router.register("number-blocks", NumberBlockViewSet)
router.register("messages", MessageViewSet)
router.register("message-deliveries", MessageDeliveryViewSet)
router.register("ip-auth", IpAuthViewSet)
router.register("sip-users", SipUserViewSet)
router.register("parameter-rewrites", ParameterRewriteViewSet)
router.register("providers", ProviderViewSet)
router.register("rate-cards", RateCardViewSet)
router.register("rate-revisions", RateRevisionViewSet)
router.register("rates", RateViewSet)
router.register("ingress-routes", IngressRouteViewSet)
router.register("cli-rules", CliRuleViewSet)
router.register("audit-log", ObjectChangeViewSet)
router.register("simulations", SimulatedCallViewSet)
router.register("jobs", JobViewSet)
router.register("calls", CallRecordViewSet)
router.register("dialogs", DialogViewSet, basename="dialog")
router.register("cdrs", CdrViewSet)
router.register("recalc-runs", RecalcRunViewSet)
router.register("ledger", LedgerEntryViewSet)

urlpatterns = [
    path("cdrs/ingest/", CdrIngestView.as_view(), name="cdrs-ingest"),  # before the router's cdrs/<pk>/
    path("cdrs/recalc/", RecalcView.as_view(), name="cdrs-recalc"),
    path("cdrs/import/", CdrImportView.as_view(), name="cdrs-import"),
    path("customers/<str:pk>/adjust-balance/", AdjustBalanceView.as_view(), name="customer-adjust-balance"),
    path("stats/", StatsView.as_view(), name="stats"),
    path("simulate/", SimulateView.as_view(), name="simulate"),
    path("routing-snapshot/", RoutingSnapshotView.as_view(), name="routing-snapshot"),
    path("settings/", SettingsView.as_view(), name="settings"),
    path("settings/test-email/", SettingsTestEmailView.as_view(), name="settings-test-email"),
    path("settings/test-sms/", SettingsTestSmsView.as_view(), name="settings-test-sms"),
    *router.urls,
]
