import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

from trunkline.core.api import fields


class BaseModelSerializer(serializers.ModelSerializer):
    """Validates through the model's own validators and clean(), so the API, the forms and imports agree."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DecimalField: fields.DecimalField,
        models.IntegerField: fields.IntegerField,
        models.PositiveIntegerField: fields.IntegerField,
        models.BigIntegerField: fields.IntegerField,
    }

    # Model fields full_clean() must skip because a service sets and checks them (a contact's password hash).
    clean_exclude: tuple[str, ...] = ()
    # An import may insert this serializer's new objects in batches (bulk_create, entries through
    # core.changelog) instead of one save() each. Only for a create that is ModelSerializer's own: no service, no
    # many-to-many field, no model save() or signal doing more than the audit entry.
    import_bulk_create: bool = False

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        model = self.Meta.model
        instance = copy.copy(self.instance) if self.instance is not None else model()
        concrete = {field.name for field in model._meta.concrete_fields}
        for name, value in attrs.items():
            if name in concrete:
                setattr(instance, name, value)
        try:
            instance.full_clean(exclude=self.clean_exclude, validate_unique=False)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        # clean() may normalise values (tags); carry them back.
        return {name: (getattr(instance, name) if name in concrete else value) for name, value in attrs.items()}
