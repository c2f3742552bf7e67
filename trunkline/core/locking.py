"""Read-modify-write without lost updates: every edit (one object, a bulk edit, a bulk delete) locks its rows
before it reads them, inside the transaction that writes them.

The rows are locked in primary-key order, so two requests naming the same rows in different orders queue behind
each other instead of deadlocking. Reading after the lock gives the stored state that the validation, the write
(only the changed fields, see ChangeLoggedModel.save) and the audit entry's "before" all start from. On SQLite,
FOR UPDATE does not exist and Django leaves it out; there the transaction itself is the lock (IMMEDIATE mode).
"""

from collections.abc import Iterable

from django import forms
from django.db import models


def lock_rows(model: type[models.Model], pks: Iterable[object]) -> None:
    """SELECT ... FOR UPDATE the rows of these primary keys, in key order. Call inside transaction.atomic()."""
    # Only the model's own table, through the base manager: the caller's queryset may join or group, and
    # PostgreSQL refuses FOR UPDATE on the nullable side of an outer join or with GROUP BY.
    list(model._base_manager.select_for_update().filter(pk__in=list(pks)).order_by("pk").values_list("pk", flat=True))


# Panel forms post every field, also those the operator left as the page showed them. These helpers let an edit
# form tell the two apart, so a field left alone keeps what another operator saved after the page was drawn.


def post_initial_values(form: forms.BaseForm) -> None:
    """Make an edit form also post the values it was drawn with (Django's hidden initial inputs). Not for
    passwords: they never go into the page."""
    instance = getattr(form, "instance", None)
    if instance is None or instance.pk is None:
        return
    for field in form.fields.values():
        if not field.disabled and not isinstance(field.widget, forms.PasswordInput):
            field.show_hidden_initial = True


def keep_untouched_fields(form: forms.BaseForm) -> list[str]:
    """Call before validating a posted edit form bound to the locked instance: fields posted unchanged from the
    page take the stored value (a disabled field's value is its initial, the instance's). Returns their names
    for show_as_posted()."""
    prefix = form.add_initial_prefix("")
    if not any(key.startswith(prefix) for key in form.data):
        return []  # posted by a client that did not draw the form (a script): every field as posted
    untouched = [name for name, field in form.fields.items()
                 if field.show_hidden_initial and not field.disabled and not form[name]._has_changed()]
    for name in untouched:
        form.fields[name].disabled = True
    return untouched


def show_as_posted(form: forms.BaseForm, names: list[str]) -> None:
    """A form shown again (with errors) shows those fields as the operator posted them, editable."""
    for name in names:
        form.fields[name].disabled = False
