"""Writes the audit log from model signals: the one cross-cutting use of signals in Trunkline.

Every ChangeLoggedModel write goes through here whatever the path (form, API, bulk, command),
and a write without a change context raises instead of passing silently. For the same reason this is where
each logged change is told to the change observers of core.changelog (the routing app's snapshot publication
follows the fields the switch reads that way), with the fields it changed.
Rows inserted by bulk_create(), which sends no signals, come here through core.changelog (record_created).
"""

from collections.abc import Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.db.models.signals import post_save, pre_delete, pre_save

from trunkline.audit.models import ObjectChange
from trunkline.core import changelog
from trunkline.core.changelog import register_created_logger
from trunkline.core.context import ChangeContext, MissingChangeContext, current_context
from trunkline.core.models import MASKED_CHANGED, ChangeLoggedModel


def _require_context(instance: ChangeLoggedModel):
    context = current_context()
    if context is None:
        raise MissingChangeContext(
            f"{type(instance).__name__} {instance!r} was written outside a change context; "
            "wrap the write in trunkline.core.context.change_context(...)"
        )
    return context


def _only_ignored_fields(instance: ChangeLoggedModel, update_fields: Any) -> bool:
    # ChangeLoggedModel.save() marks a save that bumps only `updated` but carries a change the log shows beyond the
    # columns (a rate card's egress links): that one is compared and logged.
    return (bool(update_fields) and set(update_fields) <= set(instance.audit_ignored_fields)
            and not instance.__dict__.get("_log_beyond_columns"))


def _written(instance: ChangeLoggedModel, update_fields: Any) -> set[str] | None:
    """The concrete fields this save writes (None: all of them)."""
    if update_fields is None:
        return None
    names = set(update_fields)
    return {field.name for field in instance._meta.concrete_fields if {field.name, field.attname} & names}


def _entry(context: ChangeContext, instance: Model, action: str, before: dict | None,
           after: dict | None) -> ObjectChange:
    """The unsaved entry of one change: the one place that knows what an entry holds."""
    actor = context.actor
    parent = getattr(instance, "audit_parent", None)
    return ObjectChange(
        user=actor,
        user_name=getattr(actor, "username", "") or context.source,
        request_id=context.request_id,
        source=context.source,
        ip=context.ip,
        action=action,
        object_type=ContentType.objects.get_for_model(instance, for_concrete_model=True),
        object_id=instance.pk,
        object_repr=str(instance)[:200],
        related_object_type=ContentType.objects.get_for_model(parent) if parent is not None else None,
        related_object_id=parent.pk if parent is not None else None,
        prechange_data=before,
        postchange_data=after,
    )


def _record(instance: Model, action: changelog.Action, before: dict | None, after: dict | None,
            secrets: frozenset[str] = frozenset()) -> None:
    """Write the entry and tell the change observers; `secrets` are the masked fields that changed (the entry
    shows them masked, the after value marked as changed where both sides would read the same)."""
    shown = after
    if before is not None and after is not None and secrets:
        shown = {**after, **{name: MASKED_CHANGED for name in secrets if before.get(name) == after.get(name)}}
    _entry(_require_context(instance), instance, action, before, shown).save(force_insert=True)
    fields = None
    if before is not None and after is not None:
        fields = frozenset(name for name in before.keys() | after.keys()
                           if before.get(name) != after.get(name)) | secrets
    changelog.changed(instance, action, fields)


def record_created(objects: Sequence[ChangeLoggedModel]) -> None:
    """The entries of objects just inserted by bulk_create() (which sends no signals), in one insert: the entry
    handle_post_save() writes for each saved create. Registered in core.changelog for core's bulk writers."""
    context = _require_context(objects[0])
    ObjectChange.objects.bulk_create([_entry(context, instance, ObjectChange.Action.CREATE, None,
                                             instance.serialize_for_audit()) for instance in objects])
    for model in {type(instance) for instance in objects}:  # once per model, not once per row
        changelog.changed(model, ObjectChange.Action.CREATE, None)


def record_request(instance: Model, after: dict[str, Any]) -> None:
    """Log an operator's request that is a record but not change-logged (a Recalc CDR run) as its creation."""
    _record(instance, ObjectChange.Action.CREATE, None, after)


def record_update(instance: Model, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Log an operator's change of a record that is not change-logged (a failed job sent back to the queue) the
    way change-logged ones are: who, when, from where, before and after."""
    _record(instance, ObjectChange.Action.UPDATE, before, after)


def handle_pre_save(sender: type, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    if raw or not isinstance(instance, ChangeLoggedModel) or _only_ignored_fields(instance, update_fields):
        return
    _require_context(instance)
    # Writers that did not snapshot (serializers, forms) still get a true "before" from the database.
    if instance.pk and not hasattr(instance, "_prechange_snapshot"):
        stored = type(instance)._default_manager.filter(pk=instance.pk).first()
        instance._prechange_snapshot = stored.serialize_for_audit() if stored else None
    if instance.pk and instance.audit_masked_fields:
        # The log shows secrets masked, so before == after even when one changed (a new password): keep the stored
        # raw values to compare, or a password change would pass as a no-op and leave no entry.
        instance._prechange_secrets = type(instance)._default_manager.filter(pk=instance.pk).values(
            *instance.audit_masked_fields).first()


def _secrets_changed(instance: ChangeLoggedModel, written: set[str] | None) -> frozenset[str]:
    stored = instance.__dict__.pop("_prechange_secrets", None) or {}
    return frozenset(name for name, value in stored.items()
                     if (written is None or name in written) and getattr(instance, name) != value)


def handle_post_save(sender: type, instance: Any, created: bool, raw: bool = False, update_fields: Any = None,
                     **kwargs: Any) -> None:
    if raw or not isinstance(instance, ChangeLoggedModel) or _only_ignored_fields(instance, update_fields):
        return
    before = None if created else getattr(instance, "_prechange_snapshot", None)
    after = instance.serialize_for_audit()
    written = _written(instance, update_fields)
    if before is not None and written is not None:
        # The row now holds its stored values but for the fields written: the entry shows that, not the values
        # of fields this instance holds but did not write (another writer may have changed them meanwhile).
        concrete = {field.name for field in instance._meta.concrete_fields}
        after = {name: before[name] if name in concrete and name not in written and name in before else value
                 for name, value in after.items()}
    secrets_changed = _secrets_changed(instance, written)
    if not created and before == after and not secrets_changed:
        del instance._prechange_snapshot
        return
    _record(instance, ObjectChange.Action.CREATE if created else ObjectChange.Action.UPDATE, before, after,
            secrets_changed)
    # The next save of the same instance is a new change with this state as its "before".
    instance._prechange_snapshot = after


def handle_pre_delete(sender: type, instance: Any, **kwargs: Any) -> None:
    if not isinstance(instance, ChangeLoggedModel):
        return
    _record(instance, ObjectChange.Action.DELETE, instance.serialize_for_audit(), None)


def connect() -> None:
    register_created_logger(record_created)
    pre_save.connect(handle_pre_save, dispatch_uid="audit_pre_save")
    post_save.connect(handle_post_save, dispatch_uid="audit_post_save")
    pre_delete.connect(handle_pre_delete, dispatch_uid="audit_pre_delete")
