"""Base models shared by every app: operators, their preferences, and the change-logged base."""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.urls import reverse
from django.utils import timezone

from trunkline.core.validators import reject_control_characters

MASKED = "********"
# A masked secret that an update changed: the log says so without showing either value (a password reset).
MASKED_CHANGED = "******** (changed)"


class ChangeLoggedModel(models.Model):
    """A model whose every create, update and delete is written to the audit log.

    The audit app's handlers do the writing; this base only knows how to describe itself.
    `audit_masked_fields` are shown as asterisks in the log (secrets, password hashes);
    `audit_ignored_fields` never appear in it. A model with an `audit_parent` property (a contact's customer)
    is logged against that parent too, so the parent's history shows it.
    """

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    audit_masked_fields: ClassVar[tuple[str, ...]] = ()
    audit_ignored_fields: ClassVar[tuple[str, ...]] = ("created", "updated")

    class Meta:
        abstract = True

    # Writing only what changed: an instance remembers the values it was read with, and an update writes only
    # the fields that differ from them. Another writer's change to a field this one did not touch survives even
    # when this instance was read before it (the callers that edit lock the row first; see core.locking).

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if (update_fields is None and not args and not kwargs.get("force_insert") and not self._state.adding
                and "_loaded_values" in self.__dict__):
            changed = self.changed_fields()
            if not changed:
                before = self._stored_audit_state()
                if before is None or before == self.serialize_for_audit():
                    return  # nothing changed: no write, no entry, no `updated` bump
                # Only what the log shows beyond the columns changed (a route's lock list being replaced): the
                # entry still needs writing, against this state as its "before".
                self._prechange_snapshot = before
                self._log_beyond_columns = True
            kwargs["update_fields"] = update_fields = [*changed, "updated"]
        try:
            super().save(*args, **kwargs)
        finally:
            self.__dict__.pop("_log_beyond_columns", None)
        self._remember_values(update_fields)

    def serialize_for_audit(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for field in self._meta.concrete_fields:
            if field.name in self.audit_ignored_fields:
                continue
            value = field.value_from_object(self)
            if isinstance(field, models.DecimalField) and isinstance(value, Decimal) and value.is_finite():
                # As stored: a form's 1500.50 and the database's 1500.500000 are the same value, not a change.
                value = value.quantize(Decimal(1).scaleb(-field.decimal_places))
            if field.name in self.audit_masked_fields and value:
                value = MASKED
            data[field.name] = value
        # Round-trip through JSON so Decimals, dates and UUIDs become their string form.
        return json.loads(json.dumps(data, cls=DjangoJSONEncoder))

    def snapshot(self) -> None:
        """Remember the state before a change, so the log can show before and after."""
        self._prechange_snapshot = self.serialize_for_audit()

    @classmethod
    def from_db(cls, db: str | None, field_names: list[str], values: list[Any]) -> ChangeLoggedModel:
        instance = super().from_db(db, field_names, values)
        loaded = dict(zip(field_names, values, strict=True))
        for name in _mutable_attnames(cls):  # every row of every list passes here: copy only what can change
            if name in loaded:
                loaded[name] = _copied(loaded[name])
        instance._loaded_values = loaded
        return instance

    def refresh_from_db(self, *args: Any, fields: Any = None, **kwargs: Any) -> None:
        super().refresh_from_db(*args, fields=fields, **kwargs)
        self._remember_values(fields)

    def _remember_values(self, names: Any = None) -> None:
        """The values now stored for these fields (all that are loaded when None)."""
        loaded = self.__dict__.setdefault("_loaded_values", {})
        wanted = None if names is None else set(names)
        for field in self._meta.concrete_fields:
            if field.attname in self.__dict__ and (wanted is None or {field.name, field.attname} & wanted):
                loaded[field.attname] = _copied(self.__dict__[field.attname])

    def changed_fields(self) -> list[str]:
        """Concrete fields whose value differs from the one read from the database (a field never read counts)."""
        loaded = self.__dict__.get("_loaded_values", {})
        return [field.name for field in self._meta.concrete_fields
                if not field.primary_key and field.attname in self.__dict__
                and (field.attname not in loaded or loaded[field.attname] != self.__dict__[field.attname])]

    def _stored_audit_state(self) -> dict[str, Any] | None:
        if "_prechange_snapshot" in self.__dict__:
            return self._prechange_snapshot
        stored = type(self)._base_manager.filter(pk=self.pk).first()
        return stored.serialize_for_audit() if stored is not None else None


@functools.cache
def _mutable_attnames(model: type[models.Model]) -> tuple[str, ...]:
    """The fields whose values are lists or dicts, which code may change in place."""
    return tuple(field.attname for field in model._meta.concrete_fields if isinstance(field, models.JSONField))


def _copied(value: Any) -> Any:
    """A JSON field's list or dict may be changed in place; the remembered value must not change with it. (A plain
    recursive copy: JSON holds only lists, dicts and scalars, and copy.deepcopy costs several times more.)"""
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    return value


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
    def lookup(cls, user: User, path: str, default: Any = None) -> Any:
        """Read one preference without creating the row (a GET should not write)."""
        preference = cls.objects.filter(user=user).first()
        return preference.get(path, default) if preference else default

    @classmethod
    def for_user(cls, user: User) -> UserPreference:
        preference, _ = cls.objects.get_or_create(user=user)
        return preference


class SystemSettings(ChangeLoggedModel):
    """Setup > Settings: one row for the whole system (company, email and SMS servers, internal number range)."""

    class SmtpSecurity(models.TextChoices):
        NONE = "none", "None"
        STARTTLS = "starttls", "STARTTLS"
        TLS = "tls", "TLS (implicit)"

    # Single-line values that end up in email headers (the sender's name) and subjects ({{ company }}).
    company_name = models.CharField(max_length=200, blank=True, validators=[reject_control_characters])
    company_address = models.TextField(blank=True)
    email_from = models.EmailField("email from", blank=True,
                                   help_text="The sender of every email to customers and contacts.")
    smtp_host = models.CharField("SMTP server", max_length=200, blank=True, validators=[reject_control_characters])
    smtp_port = models.PositiveIntegerField("SMTP port", default=587)
    smtp_security = models.CharField("SMTP security", max_length=10, choices=SmtpSecurity.choices,
                                     default=SmtpSecurity.STARTTLS)
    smtp_username = models.CharField("SMTP username", max_length=200, blank=True,
                                     validators=[reject_control_characters])
    smtp_password = models.CharField("SMTP password", max_length=200, blank=True)
    sms_api_url = models.URLField("SMS API URL", blank=True, default="https://api.twilio.com",
                                  help_text="A Twilio-compatible REST API; messages are posted to "
                                            "{url}/2010-04-01/Accounts/{SID}/Messages.json.")
    sms_account_sid = models.CharField("SMS account SID", max_length=100, blank=True,
                                       validators=[reject_control_characters])
    sms_auth_token = models.CharField("SMS auth token", max_length=200, blank=True)
    sms_from = models.CharField("SMS from", max_length=32, blank=True, validators=[reject_control_characters],
                                help_text="The sender number (E.164) or alphanumeric sender ID.")
    number_range_start = models.PositiveIntegerField("internal number range start", null=True, blank=True)
    number_block_size = models.PositiveIntegerField("block size", null=True, blank=True)

    audit_masked_fields = ("smtp_password", "sms_auth_token")
    # Only admins read the settings (server names, usernames, the SMS account SID, a URL that may hold
    # credentials), so only admins read their values in the audit log (trunkline.audit.models.ObjectChange.seen_by).
    audit_admin_only = True

    class Meta:
        verbose_name = "settings"
        verbose_name_plural = "settings"

    def __str__(self) -> str:
        return "Settings"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.pk = 1  # one row, always
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("notifications:settings")

    @classmethod
    def load(cls) -> SystemSettings:
        """The settings; an unsaved default row until an admin saves them (reading never writes)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class Job(models.Model):
    """A unit of background work (`trunkline worker` runs them). Rows survive restarts; handlers are idempotent."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=100)
    payload = models.JSONField(default=dict)
    # At most one debounced job of a kind waits at a time (enqueue_debounced).
    debounced = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    run_after = models.DateTimeField(default=timezone.now)
    locked_until = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)
        indexes = [models.Index(fields=["status", "run_after"])]
        constraints = [models.UniqueConstraint(
            fields=["kind"], condition=models.Q(status="queued", debounced=True), name="one_waiting_debounced_job")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
