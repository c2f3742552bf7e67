"""POST /api/v1/cdrs/ingest/: CDRs as JSON lines, rated, charged and counted (services.ingest.cdrs_ingest)."""

from __future__ import annotations

import json
import re
from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from trunkline.cdrs.models import CdrSource
from trunkline.cdrs.services.ingest import cdrs_ingest
from trunkline.core.api.schema import ErrorSerializer

MAX_BYTES = 10 * 2**20
MAX_LINES = 20_000
TOO_LARGE = (f"Send at most {MAX_BYTES // 2**20} MB and {MAX_LINES:,} lines a request; split the file and send "
             f"the parts one after the other (a line sent twice is counted as a duplicate, never charged twice).")


class TooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = TOO_LARGE


class JsonLinesParser(BaseParser):
    """The body as text, read up to MAX_BYTES + 1 (Django's request.body would refuse anything over its 2.5 MB
    form limit with a 400 that names no limit of ours)."""

    media_type = "application/x-ndjson"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = stream.read(MAX_BYTES + 1) if stream is not None else b""
        if len(data) > MAX_BYTES:
            raise TooLarge
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ParseError(f"The body is not UTF-8 text (byte {error.start}).") from error


class PlainTextLinesParser(JsonLinesParser):
    media_type = "text/plain"


class IngestErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="1-based line number in the body.")
    field = serializers.CharField(allow_blank=True, help_text="The field at fault; empty when the whole line is.")
    message = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    new = serializers.IntegerField(help_text="CDRs written, rated and charged.")
    duplicates = serializers.IntegerField(help_text="Lines whose (call_id, leg) was stored already or came earlier "
                                                    "in the body: they changed nothing.")
    errors = IngestErrorSerializer(many=True, help_text="Empty on success.")


class IngestRefusedSerializer(IngestResultSerializer):
    detail = serializers.CharField()


EXAMPLE = ('{"call_id": "c-1001", "leg": "a", "customer": 7, "ip": "203.0.113.5", "cli": "441234567890", '
           '"dst": "447911123456", "start": "2026-12-01T10:00:00Z", "answer": "2026-12-01T10:00:04Z", '
           '"end": "2026-12-01T10:01:04Z", "sip_code": 200, "release_reason": "Downstream BYE", "provider": 2}\n')


# A \u escape of a surrogate: half of a pair is no character, and the database cannot store it.
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _lines(text: str) -> tuple[list[Any], list[dict[str, Any]]]:
    """The body's JSON objects, by line (blank lines are skipped but keep their number), and its JSON errors."""
    records: list[Any] = []
    errors: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            records.append(None)
            continue
        try:
            record = json.loads(raw)
        except RecursionError:
            records.append(None)
            errors.append({"line": number, "field": "", "message": "Not valid JSON: nested too deeply."})
            continue
        except ValueError as error:
            records.append(None)
            errors.append({"line": number, "field": "", "message": f"Not valid JSON: {error}."})
            continue
        if SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(record):
            records.append(None)
            errors.append({"line": number, "field": "",
                           "message": "Not valid JSON: a \\u escape names half of a surrogate pair, no character."})
            continue
        records.append(record)
    return records, errors


def _has_lone_surrogate(record: Any) -> bool:
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class CdrIngestView(APIView):
    """Operators and admins; viewers get 403 (RolePermission: a POST is a change)."""

    parser_classes = [JsonLinesParser, PlainTextLinesParser]

    @extend_schema(
        operation_id="cdrs_ingest",
        # Documented as text/plain, which clients and Schemathesis can send; application/x-ndjson is taken alike.
        request={"text/plain": {"type": "string"}},
        responses={
            200: IngestResultSerializer,
            400: OpenApiResponse(
                PolymorphicProxySerializer(component_name="IngestRefusal",
                                           serializers=[IngestRefusedSerializer, ErrorSerializer],
                                           resource_type_field_name=None),
                description="A line is bad (every error by line, in `errors`), or the body is no JSON lines "
                            "(the usual error format): nothing was written."),
            413: OpenApiResponse(ErrorSerializer, description=TOO_LARGE),
        },
        examples=[OpenApiExample("One answered call", value=EXAMPLE, request_only=True,
                                 media_type="text/plain")],
    )
    def post(self, request: Request) -> Response:
        """Ingest CDRs (Content-Type text/plain or application/x-ndjson): one JSON object a line (call_id, leg,
        customer, ip or sip_user, cli, dst, start, answer, end in ISO 8601 with a timezone, sip_code,
        release_reason, provider; optional route, tech_prefix, pdd_ms, ring_ms, node, sip_reason). Each new CDR is
        rated with the card live at its start, charged to the ledger and counted in the rollups; a (call_id, leg)
        already stored is a duplicate and changes nothing. Any bad line: 400 with the errors by line, and nothing
        is written."""
        text = request.data
        if not isinstance(text, str):  # no body: DRF gives an empty dict
            text = ""
        records, json_errors = _lines(text)
        if len(records) > MAX_LINES:
            raise TooLarge
        present = [(number, record) for number, record in enumerate(records, start=1) if record is not None]
        if json_errors:
            return self._refused(json_errors)
        if not present:
            return Response({"detail": "The body holds no CDR: send one JSON object a line.", "errors": {}},
                            status=status.HTTP_400_BAD_REQUEST)
        result = cdrs_ingest(records=[record for _, record in present], source=CdrSource.API.value,
                             actor=request.user)
        if result.errors:
            lines = [number for number, _ in present]  # the service numbers the records it got: back to lines
            for error in result.errors:
                error["line"] = lines[error["line"] - 1]
            return self._refused(result.errors)
        return Response({"new": result.new, "duplicates": result.duplicates, "errors": []})

    @staticmethod
    def _refused(errors: list[dict[str, Any]]) -> Response:
        lines = len({error["line"] for error in errors})
        detail = (f"{lines} lines have errors; nothing was written." if lines != 1
                  else "1 line has errors; nothing was written.")
        return Response({"detail": detail, "new": 0, "duplicates": 0, "errors": errors},
                        status=status.HTTP_400_BAD_REQUEST)
