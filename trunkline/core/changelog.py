"""The seams through which code below the audit app reaches the audit log's write path, and code above it
follows the changes that path sees.

QuerySet.bulk_create() sends no signals, so the audit app's handlers never see its rows. The audit app sits above
core (pyproject.toml's layers), so core cannot call it: the audit app registers its writer here when it is loaded,
and a bulk writer in core (bulk_import) calls log_created() with the objects it has just inserted.

Every logged change (a saved create, update or delete, and a bulk create) is then told to the change observers
an app registers from its AppConfig.ready(): the routing app queues its snapshot publication this way. Core and
audit name no observer; an observer decides from the model and the changed fields whether the change matters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from django.db.models import Model

    from trunkline.core.models import ChangeLoggedModel

CreatedLogger = Callable[[Sequence["ChangeLoggedModel"]], None]
Action = Literal["create", "update", "delete"]
# Called with the changed instance (or its model, for a bulk create of many rows), the action, and the names of
# the fields that changed (None: all of them, as for a create or a delete). An observer runs inside the change's
# transaction: what it does after the commit it queues with transaction.on_commit (core.jobs.enqueue_after_commit).
ChangeObserver = Callable[["Model | type[Model]", Action, "frozenset[str] | None"], None]
_created_logger: CreatedLogger | None = None
_observers: list[ChangeObserver] = []


def register_created_logger(function: CreatedLogger) -> None:
    global _created_logger
    _created_logger = function


def log_created(objects: Sequence[ChangeLoggedModel]) -> None:
    """Write the audit entries of `objects`, just inserted (with their primary keys) by bulk_create(), as the
    audit app writes one per saved create; the change observers are told too."""
    if _created_logger is None:
        # Never a silent skip: a create without its entry would be a change the log does not show.
        raise RuntimeError("No audit writer is registered for bulk creates (is trunkline.audit installed?).")
    if objects:
        _created_logger(objects)


def register_change_observer(function: ChangeObserver) -> None:
    """Follow every logged change from now on (once per function: ready() may run twice in tests)."""
    if function not in _observers:
        _observers.append(function)


def changed(subject: Model | type[Model], action: Action, fields: frozenset[str] | None) -> None:
    """Tell the observers of one logged change; the audit app calls it where it writes the entry."""
    for observer in _observers:
        observer(subject, action, fields)
