"""Base models shared by every app: operators, their preferences, and the change-logged base."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.urls import reverse

MASKED = "********"


class ChangeLoggedModel(models.Model):
    """A model whose every create, update and delete is written to the audit log.

    The audit app's handlers do the writing; this base only knows how to describe itself.
    `audit_masked_fields` are shown as asterisks in the log (secrets, password hashes);
    `audit_ignored_fields` never appear in it.
    """

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    audit_masked_fields: ClassVar[tuple[str, ...]] = ()
    audit_ignored_fields: ClassVar[tuple[str, ...]] = ("created", "updated")

    class Meta:
        abstract = True

    def serialize_for_audit(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field in self._meta.concrete_fields:
            if field.name in self.audit_ignored_fields:
                continue
            value = field.value_from_object(self)
            if field.name in self.audit_masked_fields and value:
                value = MASKED
            data[field.name] = value
        # Round-trip through JSON so Decimals, dates and UUIDs become their string form.
        return json.loads(json.dumps(data, cls=DjangoJSONEncoder))

    def snapshot(self) -> None:
        """Remember the state before a change, so the log can show before and after."""
        self._prechange_snapshot = self.serialize_for_audit()


class User(ChangeLoggedModel, AbstractUser):
    """An operator of the control panel and the API. The role decides what they may do."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        OPERATOR = "operator", "Operator"
        VIEWER = "viewer", "Viewer"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    audit_masked_fields = ("password",)
    audit_ignored_fields = ("created", "updated", "last_login")

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        ordering = ("username",)

    def __str__(self) -> str:
        return self.username

    def get_absolute_url(self) -> str:
        return reverse("core:user", args=[self.pk])

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == self.Role.ADMIN

    @property
    def can_write(self) -> bool:
        return self.is_admin or self.role == self.Role.OPERATOR


class UserPreference(models.Model):
    """Per-operator UI preferences as one JSON document addressed by dotted paths (tables.CustomerTable.columns)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="preference")
    data = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"Preferences of {self.user}"

    def get(self, path: str, default: Any = None) -> Any:
        node: Any = self.data
        for key in path.split("."):
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    def set(self, path: str, value: Any) -> None:
        keys = path.split(".")
        node = self.data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
        self.save(update_fields=["data"])

    def clear(self, path: str) -> None:
        keys = path.split(".")
        node = self.data
        for key in keys[:-1]:
            node = node.get(key, {})
        if keys[-1] in node:
            del node[keys[-1]]
            self.save(update_fields=["data"])

    @classmethod
    def for_user(cls, user: User) -> UserPreference:
        preference, _ = cls.objects.get_or_create(user=user)
        return preference
