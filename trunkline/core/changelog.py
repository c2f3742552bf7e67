"""The seam through which code below the audit app logs objects it created in bulk.

QuerySet.bulk_create() sends no signals, so the audit app's handlers never see its rows. The audit app sits above
core (pyproject.toml's layers), so core cannot call it: the audit app registers its writer here when it is loaded,
and a bulk writer in core (bulk_import) calls log_created() with the objects it has just inserted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trunkline.core.models import ChangeLoggedModel

CreatedLogger = Callable[[Sequence["ChangeLoggedModel"]], None]
_created_logger: CreatedLogger | None = None


def register_created_logger(function: CreatedLogger) -> None:
    global _created_logger
    _created_logger = function


def log_created(objects: Sequence[ChangeLoggedModel]) -> None:
    """Write the audit entries of `objects`, just inserted (with their primary keys) by bulk_create(), as the
    audit app writes one per saved create; their models' follow-up jobs are queued too."""
    if _created_logger is None:
        # Never a silent skip: a create without its entry would be a change the log does not show.
        raise RuntimeError("No audit writer is registered for bulk creates (is trunkline.audit installed?).")
    if objects:
        _created_logger(objects)
