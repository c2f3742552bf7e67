"""Row locks for read-modify-write: every edit (one object, a bulk edit, a bulk delete) locks its rows before it
reads them, inside the transaction that writes them.

The rows are locked in primary-key order, so two requests naming the same rows in different orders queue behind
each other instead of deadlocking. Reading after the lock gives the stored state that the validation, the write
(only the changed fields, see ChangeLoggedModel.save) and the audit entry's "before" all start from. On SQLite,
FOR UPDATE does not exist and Django leaves it out; there the transaction itself is the lock (IMMEDIATE mode).
"""

from collections.abc import Iterable

from django.db import models


def lock_rows(model: type[models.Model], pks: Iterable[object]) -> None:
    """SELECT ... FOR UPDATE the rows of these primary keys, in key order. Call inside transaction.atomic()."""
    # Only the model's own table, through the base manager: the caller's queryset may join or group, and
    # PostgreSQL refuses FOR UPDATE on the nullable side of an outer join or with GROUP BY.
    list(model._base_manager.select_for_update().filter(pk__in=list(pks)).order_by("pk").values_list("pk", flat=True))
