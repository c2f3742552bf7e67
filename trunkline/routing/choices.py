from django.db import models

from trunkline.contracts import money, snapshot
from trunkline.core.choices import text_choices

# The switch reads these values: they come from the contract, only the labels are written here.
ProviderStatus = text_choices("ProviderStatus", snapshot.ProviderStatus,
                              {"active": "Active", "inactive": "Inactive"}, module=__name__)
Transport = text_choices("Transport", snapshot.Transport, {"udp": "UDP", "tcp": "TCP", "tls": "TLS"}, module=__name__)
RoutingStrategy = text_choices("RoutingStrategy", snapshot.Strategy,
                               {"lcr": "LCR", "reverse_lcr": "Reverse LCR", "weighted": "Weighted"}, module=__name__)
RateStatus = text_choices("RateStatus", snapshot.RateStatus, {"active": "Active", "blocked": "Blocked"},
                          module=__name__)
Recording = text_choices("Recording", snapshot.Recording, {
    "disabled": "Disabled", "1": "Sampling 1%", "5": "Sampling 5%", "25": "Sampling 25%", "50": "Sampling 50%",
    "always": "Enabled (always on)"}, module=__name__)
CliDirection = text_choices("CliDirection", snapshot.CliDirection,
                            {"outbound": "Outbound (termination)", "inbound": "Inbound (origination)"}, module=__name__)
UseDid = text_choices("UseDid", snapshot.UseDid,
                      {"disabled": "Disabled", "filter": "Filter (only the customer's DIDs)"}, module=__name__)

# A card's billing terms (domain.md §2.3); trunkline.switch.rating applies them.
RoundingMethod = text_choices("RoundingMethod", money.RoundingMethod, {
    "up": "Up (always up)", "down": "Down (always down)", "half_up": "Half-up (5-9 up)",
    "half_down": "Half-down (5 and below down)"}, module=__name__)
DurationRounding = text_choices("DurationRounding", money.DurationRounding, {
    "full_down": "Full-down", "full_up": "Full-up", "half_up": "Half-up", "half_down": "Half-down"},
    module=__name__)


class RateCardKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    PROVIDER = "provider", "Provider"


class RevisionSource(models.TextChoices):
    IMPORT = "import", "CSV import"
    EDIT = "edit", "Row edit"
