"""End Calls: ask Kamailio, the edge that holds the dialogs, to end them (JSON-RPC `dlg.end_dlg`).

Kamailio answers the BYEs itself; its `ended` event then comes back through the switch's spool with the release
reason "MI Termination" (the loader also gives that reason to an ended record whose end was requested here).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from trunkline.audit.handlers import record_update
from trunkline.cdrs.models import CallRecord

RPC_TIMEOUT = 3.0
_request_ids = count(1)


class KamailioError(Exception):
    """Kamailio did not end the dialog: unreachable, or it answered a JSON-RPC error."""


def end_dialog(h_entry: int, h_id: int, *, url: str | None = None, timeout: float = RPC_TIMEOUT) -> None:
    """POST Kamailio's JSON-RPC 2.0 `dlg.end_dlg [h_entry, h_id]`; KamailioError unless it answers a result."""
    body = json.dumps({"jsonrpc": "2.0", "method": "dlg.end_dlg", "params": [h_entry, h_id],
                       "id": next(_request_ids)}).encode()
    request = urllib.request.Request(url or settings.KAMAILIO_RPC_URL, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = response.read(65536)
    except urllib.error.HTTPError as error:
        # jsonrpcs answers an RPC fault with the fault's code as the HTTP status and the error in the body.
        message = _rpc_error(_body(error))
        raise KamailioError(f"Kamailio refused: {message}." if message else
                            f"Kamailio answered HTTP {error.code}.") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise KamailioError(f"Kamailio's JSON-RPC is unreachable: {reason}.") from error
    try:
        data = json.loads(answer) if answer.strip() else {}
    except ValueError as error:
        raise KamailioError("Kamailio's answer is not JSON.") from error
    message = _rpc_error(data)
    if message is not None:
        raise KamailioError(f"Kamailio refused: {message}.")


def _body(error: urllib.error.HTTPError) -> Any:
    try:
        return json.loads(error.read(65536))
    except (ValueError, OSError):
        return None


def _rpc_error(data: Any) -> str | None:
    """The message of a JSON-RPC error answer; None when the answer is no error."""
    rpc_error = data.get("error") if isinstance(data, dict) else None
    if rpc_error is None:
        return None
    message = rpc_error.get("message") if isinstance(rpc_error, dict) else rpc_error
    return str(message or "error").rstrip(".")


@dataclass
class EndResult:
    ended: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # id -> why it was not ended


def endable(ids: Sequence[int]) -> list[CallRecord]:
    """The live records of `ids`, in the order asked; ValidationError naming every id that cannot be ended (and
    then nothing is sent): unknown, no longer live, or without the dialog the edge reports when it answers."""
    records = {record.pk: record for record in CallRecord.objects.live().filter(pk__in=list(ids))}
    unknown = [pk for pk in ids if pk not in records]
    no_dialog = [pk for pk in ids if pk in records
                 and (records[pk].dialog_h_entry is None or records[pk].dialog_h_id is None)]
    messages = []
    if unknown:
        messages.append(f"No live dialog with id {', '.join(map(str, unknown))}.")
    if no_dialog:
        messages.append(f"Dialog {', '.join(map(str, no_dialog))} cannot be ended: the edge did not report its "
                        f"dialog.")
    if messages:
        raise ValidationError({"ids": messages})
    return [records[pk] for pk in ids]


def dialogs_end(*, ids: Sequence[int]) -> EndResult:
    """End the live dialogs `ids` through Kamailio; each one asked is stamped end_requested_at and logged in the
    audit log under the current change context. All are checked before any is sent (endable())."""
    result = EndResult()
    for record in endable(list(dict.fromkeys(ids))):
        try:
            # Outside a transaction: the request to the edge must not hold database locks while it waits.
            end_dialog(record.dialog_h_entry, record.dialog_h_id)  # type: ignore[arg-type]
        except KamailioError as error:
            result.errors[str(record.pk)] = str(error)
            continue
        _stamp(record)
        result.ended.append(record.pk)
    return result


def _stamp(record: CallRecord) -> None:
    with transaction.atomic():
        locked = CallRecord.objects.select_for_update().get(pk=record.pk)
        before = _audit_data(locked)
        locked.end_requested_at = timezone.now()
        CallRecord.objects.filter(pk=locked.pk).update(end_requested_at=locked.end_requested_at)
        record_update(locked, before, _audit_data(locked))


def _audit_data(record: CallRecord) -> dict[str, Any]:
    data = {"call_id": record.call_id, "state": record.state, "end_requested_at": record.end_requested_at}
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))
