from django.db import models

from trunkline.contracts import snapshot
from trunkline.core.choices import text_choices

# The switch reads the status: its values come from the contract.
CustomerStatus = text_choices("CustomerStatus", snapshot.CustomerStatus, {
    "active": "Active", "inactive": "Inactive", "pending_approval": "Pending Approval", "penalty": "Penalty"},
    module=__name__)


class ContactType(models.TextChoices):
    GENERAL = "general", "General"
    BILLING = "billing", "Billing"
    TECHNICAL = "technical", "Technical"
    SALES = "sales", "Sales"
    NOC = "noc", "NOC"


class MessageChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
