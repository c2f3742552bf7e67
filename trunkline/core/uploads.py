"""The upload limit every import applies (TRUNKLINE_UPLOAD_LIMIT), in the API and the control panel.

An upload is copied to a temporary file as it arrives (in memory up to SPOOL_IN_MEMORY, then on disk), counting
its bytes and lines, so a file over the limit is refused before it is all read and a file under it is never
held in memory whole.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings

CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 1024 * 1024
# Room for a multipart body's boundaries and other fields around a file of the largest allowed size.
FORM_OVERHEAD = 64 * 1024
MEGABYTE = 1024 * 1024


class UploadTooLarge(Exception):
    """The upload is over TRUNKLINE_UPLOAD_LIMIT; the message says the limit."""

    def __init__(self) -> None:
        super().__init__(too_large_message())


def upload_limit() -> int:
    return settings.TRUNKLINE_UPLOAD_LIMIT


def format_size(size: int) -> str:
    if size % MEGABYTE == 0:
        return f"{size // MEGABYTE} MB"
    if size % 1024 == 0:
        return f"{size // 1024} KB"
    return f"{size:,} bytes"


def declared_too_large(meta: dict[str, Any]) -> bool:
    """Whether the request says (Content-Length) that its body is over the limit, allowing FORM_OVERHEAD for a
    multipart form's boundaries and other fields; checked before anything of the body is read. A malformed
    length ("²", "-1") is left to the server and the body reader, never an int() that raises."""
    length = str(meta.get("CONTENT_LENGTH") or "0")
    return length.isascii() and length.isdigit() and int(length) > upload_limit() + FORM_OVERHEAD


def too_large_message() -> str:
    return f"The upload is larger than the limit of {format_size(upload_limit())}."


@dataclass
class Spooled:
    file: IO[bytes]
    size: int
    lines: int


def spool(stream: Any) -> Spooled:
    """`stream` (a request body or an uploaded file) copied to a rewound temporary file; UploadTooLarge past the
    limit. Lines count LF or, for a file with CR-only line ends, CR."""
    limit = upload_limit()
    target = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    size = newlines = returns = 0
    chunks = stream.chunks(CHUNK) if hasattr(stream, "chunks") else iter(lambda: stream.read(CHUNK), b"")
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            target.close()
            raise UploadTooLarge
        newlines += chunk.count(b"\n")
        returns += chunk.count(b"\r")
        target.write(chunk)
    target.seek(0)
    return Spooled(file=target, size=size, lines=max(newlines, returns))


def count_lines(text: str) -> int:
    return max(text.count("\n"), text.count("\r"))
