"""OpenAPI for the NetBox-style bulk operations on a list URL.

Left alone, drf-spectacular documents PUT/PATCH/DELETE on the list URL as if they took one object, and gives
them the same operationId as the detail URL's operations (client generators then emit clashing methods).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

BULK_ACTIONS = ("bulk_update", "bulk_partial_update", "bulk_destroy")


class BulkDestroyItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The object to delete.")


@cache
def bulk_item_serializer(serializer_class: type[serializers.Serializer], partial: bool) -> type:
    """The item of a bulk edit: the object's writable fields plus the `id` that says which object.

    Cached, so the schema sees one class per name (spectacular warns about distinct classes sharing a name).
    """

    class Item(serializer_class):  # type: ignore[misc,valid-type]
        id = serializers.IntegerField(help_text="The object to change.")

        def get_fields(self) -> dict[str, Any]:
            fields = super().get_fields()
            if partial:
                # Not spectacular's "partial" (it would drop every `required`, the id's too).
                for name, field in fields.items():
                    if name != "id":
                        field.required = False
            return fields

    base = serializer_class.__name__.removesuffix("Serializer")
    Item.__name__ = Item.__qualname__ = f"{'Patched' if partial else ''}Bulk{base}Serializer"
    return Item


class BulkAutoSchema(AutoSchema):
    def _bulk_action(self) -> str | None:
        action = getattr(self.view, "action", None)
        return action if action in BULK_ACTIONS else None

    def get_operation_id(self) -> str:
        action = self._bulk_action()
        if action is None:
            return super().get_operation_id()
        tokens = [token.replace("-", "_") for token in self._tokenize_path()]
        return "_".join([*tokens, action])  # customers_bulk_partial_update, beside customers_partial_update

    def get_request_serializer(self) -> Any:
        action = self._bulk_action()
        if action is None:
            return super().get_request_serializer()
        if action == "bulk_destroy":
            return BulkDestroyItemSerializer(many=True)
        return bulk_item_serializer(self.view.get_serializer_class(), action == "bulk_partial_update")(many=True)

    def get_response_serializers(self) -> Any:
        action = self._bulk_action()
        if action in ("bulk_update", "bulk_partial_update"):
            return self.view.get_serializer_class()(many=True)
        return super().get_response_serializers()

    def map_parsers(self) -> list[Any]:
        # A list of objects only travels as JSON.
        return ["application/json"] if self._bulk_action() else super().map_parsers()

    def _get_request_body(self, direction: str = "request") -> Any:
        if self._bulk_action() != "bulk_destroy":
            return super()._get_request_body(direction)
        # spectacular gives DELETE no body; the bulk delete is all body.
        schema, _ = self._get_request_for_media_type(self.get_request_serializer(), direction)
        return {"content": {"application/json": {"schema": schema}}, "required": True}

    def get_filter_backends(self) -> list[Any]:
        # The answer is a list, which spectacular takes for a list view; but the objects are named by id in the
        # body, never selected by the list's query filters.
        return [] if self._bulk_action() else super().get_filter_backends()

    def _get_paginator(self) -> Any:
        # A bulk edit answers with the plain list of changed objects, not a page.
        return None if self._bulk_action() else super()._get_paginator()
