"""OpenAPI for the NetBox-style bulk operations on a list URL.

Left alone, drf-spectacular documents PUT/PATCH/DELETE on the list URL as if they took one object, and gives
them the same operationId as the detail URL's operations (client generators then emit clashing methods).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

BULK_ACTIONS = ("bulk_update", "bulk_partial_update", "bulk_destroy")


class ErrorSerializer(serializers.Serializer):
    """The error format of every 4xx answer (DESIGN.md): a sentence, and the messages by field."""

    detail = serializers.CharField(help_text="What is wrong, in one sentence.")
    errors = serializers.DictField(help_text="Messages by field name (in bulk requests, by the object's index in "
                                             "the list); empty when the error concerns the whole request.")


class AutoSchema(SpectacularAutoSchema):
    """Documents the error answers every operation can give, in the error format, beside its own answers: a
    client (and Schemathesis, in the test suite) may then rely on the schema for 400, 401, 403 and 404 too."""

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        errors = {
            "400": "Invalid input (query parameters or body); nothing was written.",
            "401": "No credentials, or a token that is not valid.",
            "403": "The operator's role may not do this.",
        }
        if "{" in self.path:
            errors["404"] = "No such object."
        if self.method in ("POST", "PUT", "PATCH") or (self.method == "DELETE" and "{" not in self.path):
            errors["415"] = "The body's Content-Type is not one the operation takes."
        for code, description in errors.items():
            if code not in responses:
                responses[code] = {**self._get_response_for_code(ErrorSerializer, code, direction=direction),
                                   "description": description}
        return responses


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


def blank_or_pattern_as_any_of(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """A postprocessing hook: spectacular documents a blank-allowed text field with a pattern or format as
    `oneOf: [<pattern>, <empty string>]`, but "" matches both when the pattern takes the empty string too, and
    oneOf means exactly one, so the API's own answers ("tech_prefix": "") broke its schema. anyOf says it."""

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            alternatives = node.get("oneOf")
            if isinstance(alternatives, list) and {"type": "string", "maxLength": 0} in alternatives:
                node["anyOf"] = node.pop("oneOf")
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(result)
    return result


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
