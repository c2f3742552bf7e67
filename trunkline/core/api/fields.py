from decimal import Decimal

from rest_framework import serializers

from trunkline.core.money import SCIENTIFIC_NOTATION_MESSAGE, is_scientific_notation
from trunkline.core.validators import normalize_ip_list, normalize_tags


class DecimalField(serializers.DecimalField):
    """A Decimal that refuses scientific notation ("1E+5"), which spreadsheets write and people never mean."""

    def to_internal_value(self, data) -> Decimal:
        if is_scientific_notation(data):
            raise serializers.ValidationError(SCIENTIFIC_NOTATION_MESSAGE.format(value=data.strip()))
        if isinstance(data, float):
            # JSON numbers arrive as floats: go through their shortest repr, never binary floating point.
            data = repr(data)
        return super().to_internal_value(data)


class IntegerField(serializers.IntegerField):
    def to_internal_value(self, data) -> int:
        if is_scientific_notation(data):
            raise serializers.ValidationError(SCIENTIFIC_NOTATION_MESSAGE.format(value=data.strip()))
        return super().to_internal_value(data)


class TagListField(serializers.ListField):
    """A list of strings; a CSV cell "vip, wholesale" is accepted as two tags."""

    child = serializers.CharField(max_length=50)

    def to_internal_value(self, data) -> list[str]:
        if isinstance(data, str):
            data = normalize_tags(data)
        return normalize_tags(super().to_internal_value(data))


class IPListField(serializers.ListField):
    """IP addresses or networks (CIDR); a CSV cell "192.0.2.1, 198.51.100.0/24" is accepted as two entries.
    The model validates each entry, so the API, the forms and imports give the same message."""

    child = serializers.CharField(max_length=64)

    def to_internal_value(self, data) -> list[str]:
        if isinstance(data, str):
            data = normalize_ip_list(data)
        return normalize_ip_list(super().to_internal_value(data))
