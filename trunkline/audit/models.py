"""The audit log: one ObjectChange per create, update or delete of a change-logged model."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.text import capfirst

from trunkline.core.models import MASKED, MASKED_CHANGED


class ObjectChange(models.Model):
    """An immutable record of one change: who, when, from where, and the object before and after."""

    class Action(models.TextChoices):
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="changes")
    user_name = models.CharField(max_length=150)
    request_id = models.UUIDField(db_index=True)
    source = models.CharField(max_length=16)
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.BigIntegerField(db_index=True)
    object_repr = models.CharField(max_length=200)
    # The object this one belongs to (a contact's customer), so the customer's audit tab shows its contacts too.
    related_object_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, null=True, blank=True,
                                            related_name="+")
    related_object_id = models.BigIntegerField(null=True, blank=True)
    prechange_data = models.JSONField(null=True, blank=True)
    postchange_data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-time", "-id")
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["object_type", "object_id"]),
                   models.Index(fields=["related_object_type", "related_object_id"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_type_name.lower()} {self.object_repr}"

    def get_absolute_url(self) -> str:
        return reverse("audit:objectchange", args=[self.pk])

    @property
    def object_url(self) -> str | None:
        if self.action == self.Action.DELETE:
            return None
        try:
            return reverse(f"{self.object_type.app_label}:{self.object_type.model}", args=[self.object_id])
        except NoReverseMatch:
            return None

    @property
    def object_type_name(self) -> str:
        """The logged model as people call it ("Rate card"; the API's `object_type` is its code, `ratecard`)."""
        model = self.object_type.model_class()
        return capfirst(model._meta.verbose_name) if model is not None else self.object_type.model

    def seen_by(self, user: Any) -> ObjectChange:
        """The entry as `user` may read it. A model only admins read (`audit_admin_only`: Setup > Settings) has
        its values masked for everyone else, a changed one marked as changed: who changed which field stays
        visible, what it holds does not. Secrets (`audit_masked_fields`) are masked for everyone when written."""
        model = self.object_type.model_class()
        if getattr(user, "is_admin", False) or not getattr(model, "audit_admin_only", False):
            return self
        before, after = self.prechange_data, self.postchange_data
        self.prechange_data = None if before is None else {key: MASKED for key in before}
        self.postchange_data = None if after is None else {
            key: MASKED_CHANGED if before is not None and before.get(key) != value else MASKED
            for key, value in after.items()}
        return self

    def diff(self) -> list[dict[str, Any]]:
        """Every field with its value before and after, changed ones flagged, in the model's field order
        (PostgreSQL's jsonb keeps keys in its own order, not the order they were written in)."""
        before = self.prechange_data or {}
        after = self.postchange_data or {}
        model = self.object_type.model_class()
        declared = [field.name for field in model._meta.concrete_fields] if model else []
        keys = dict.fromkeys([*before, *after])
        rows = []
        for key in [name for name in declared if name in keys] + [name for name in keys if name not in declared]:
            rows.append({
                "field": key,
                "before": before.get(key),
                "after": after.get(key),
                "changed": before.get(key) != after.get(key),
            })
        return rows

    @property
    def changed_summary(self) -> str:
        """The Changed column: the fields an update changed, a changed secret as "password changed" (its values
        are never shown)."""
        changes = self.diff() if self.action == self.Action.UPDATE else []
        plain = [row["field"] for row in changes if row["changed"] and row["after"] != MASKED_CHANGED]
        secret = [f"{row['field']} changed" for row in changes if row["changed"] and row["after"] == MASKED_CHANGED]
        return ", ".join([*plain, *secret])

    @property
    def changed_fields(self) -> list[str]:
        """The fields an update changed; creates and deletes show whole objects instead."""
        if self.action != self.Action.UPDATE:
            return []
        return [row["field"] for row in self.diff() if row["changed"]]
