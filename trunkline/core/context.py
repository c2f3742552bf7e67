"""Who is making the current change: set by the web middleware, by commands and by jobs.

A change-logged model saved outside such a context is an error (MissingChangeContext),
so no write path can skip the audit log by accident.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest


class MissingChangeContext(RuntimeError):
    """A change-logged model was written with nobody to attribute the change to."""


@dataclass
class ChangeContext:
    source: str  # web, api, command, job, system
    user: Any = None
    request: HttpRequest | None = None
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    ip: str | None = None

    @property
    def actor(self) -> Any:
        """The operator: explicit, else whoever the request authenticated as (DRF sets it on the request too)."""
        if self.user is not None:
            return self.user
        user = getattr(self.request, "user", None)
        if user is not None and user.is_authenticated:
            return user
        return None


_current: ContextVar[ChangeContext | None] = ContextVar("trunkline_change_context", default=None)


def current_context() -> ChangeContext | None:
    return _current.get()


@contextmanager
def change_context(*, source: str, user: Any = None, request: HttpRequest | None = None,
                   ip: str | None = None) -> Iterator[ChangeContext]:
    context = ChangeContext(source=source, user=user, request=request, ip=ip)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
