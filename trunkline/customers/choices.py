from django.db import models


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    PENDING_APPROVAL = "pending_approval", "Pending Approval"
    PENALTY = "penalty", "Penalty"
