"""Django choices built from the enums of `trunkline.contracts`, so a value the switch reads is written once."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from django.db import models


def text_choices(name: str, enum: type[StrEnum], labels: Mapping[str, str], *, module: str) -> type[models.TextChoices]:
    """A TextChoices with the members of `enum` (same names, same values) and the human `labels`, keyed by value.

    Every member needs its label: a value added to the contract must not reach the forms under a made-up one.
    `module` is the caller's `__name__`, where the class is found (pickling, repr).
    """
    values = [member.value for member in enum]
    missing, unknown = [v for v in values if v not in labels], [v for v in labels if v not in values]
    if missing or unknown:
        raise ValueError(f"{name}: labels must name each value of {enum.__name__} once; missing {missing}, "
                         f"unknown {unknown}.")
    members = [(member.name, (member.value, labels[member.value])) for member in enum]
    return models.TextChoices(name, members, module=module)
