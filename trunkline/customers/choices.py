from django.db import models


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    PENDING_APPROVAL = "pending_approval", "Pending Approval"
    PENALTY = "penalty", "Penalty"


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
