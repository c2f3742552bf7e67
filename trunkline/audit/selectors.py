"""Reads of the audit log for the control panel."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q, QuerySet

from trunkline.audit.models import ObjectChange


def changes_about(obj: models.Model) -> QuerySet[ObjectChange]:
    """Changes to `obj` and to the objects whose related object it is (a customer's contacts); newest first."""
    object_type = ContentType.objects.get_for_model(obj)
    condition = (Q(object_type=object_type, object_id=obj.pk)
                 | Q(related_object_type=object_type, related_object_id=obj.pk))
    return ObjectChange.objects.filter(condition).select_related("object_type").order_by("-time", "-id")


def changes_of_request(change: ObjectChange, limit: int) -> QuerySet[ObjectChange]:
    """The other changes made by the same request as `change`."""
    return ObjectChange.objects.filter(Q(request_id=change.request_id) & ~Q(pk=change.pk)).select_related(
        "object_type")[:limit]
