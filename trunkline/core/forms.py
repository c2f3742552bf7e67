from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Model

from trunkline.core.money import SCIENTIFIC_NOTATION_MESSAGE, is_scientific_notation
from trunkline.core.validators import normalize_tags


def display_decimal(value: Decimal) -> str:
    """0.000000 shows as 0.00 and 12.500000 as 12.50: at least two places, no trailing noise."""
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


class TagsField(forms.CharField):
    """A list of tags typed as "vip, wholesale"."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "Comma-separated labels, for filters, groups and templates.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(value)
        return value or ""

    def to_python(self, value: Any) -> list[str]:
        return normalize_tags(value)


class NoScientificNotationMixin:
    """Refuse 1E+5 in number inputs: spreadsheets write it, people never mean it."""

    def clean(self) -> dict[str, Any]:
        for name, field in self.fields.items():
            raw = self.data.get(self.add_prefix(name)) if self.is_bound else None
            if isinstance(field, forms.DecimalField | forms.IntegerField) and is_scientific_notation(raw):
                self.add_error(name, SCIENTIFIC_NOTATION_MESSAGE.format(value=raw))
        return super().clean()


class BulkEditForm(NoScientificNotationMixin, forms.Form):
    """Every field optional: a blank field leaves that field unchanged. Subclasses implement apply()."""

    def apply(self, obj: Model) -> None:
        raise NotImplementedError
