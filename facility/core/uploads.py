"""Uploaded files: sniffed by content (never trusting the declared type), stored under random keys.

Files live outside the web root in `<instance>/<area>/`, where the area is a folder chosen
by the code (e.g. `uploads/evidence`), named by a random key; the uploader's file name is
kept only as data. Only a short list of document and image types is accepted; a caller may
narrow it (`allowed`).
"""
from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from flask import Response, current_app, send_file
from flask_babel import gettext as _

from facility.core.errors import NotFound, ValidationFailed

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# (magic prefix, content type); checked in order.
_SIGNATURES = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
]
_AREA = re.compile(r"[a-z0-9_-]+(/[a-z0-9_-]+)*")


@dataclass(frozen=True)
class StoredFile:
    storage_key: str
    original_filename: str
    content_type: str
    size_bytes: int
    sha256: str


def sniff(data: bytes, allowed: Collection[str] | None = None) -> str | None:
    """The content type from the first bytes, or None when the type is not accepted (or not in `allowed`)."""
    content_type = _content_type(data)
    return content_type if allowed is None or content_type in allowed else None


def _content_type(data: bytes) -> str | None:
    for magic, content_type in _SIGNATURES:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if b"\x00" not in data[:8192]:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


def clean_filename(name: str) -> str:
    """The last path component, without control characters, at most 255 characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip() or "file"
    return name[-255:]


def _folder(area: str) -> str:
    if not _AREA.fullmatch(area):  # a constant of ours, never a path from a request
        raise ValueError("bad upload area")
    path = os.path.join(current_app.instance_path, area)
    os.makedirs(path, exist_ok=True)
    return path


def validate_upload(filename: str, data: bytes, *, field: str = "files") -> str:
    """Refuse empty, too large and unaccepted files (ValidationFailed on `field`); return the sniffed type."""
    limit = int(current_app.config.get("UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))
    label = clean_filename(filename)
    if not data:
        raise ValidationFailed(_("%(name)s is empty.", name=label), errors={field: [_("%(name)s is empty.", name=label)]})
    if len(data) > limit:
        message = _("%(name)s is larger than %(mb)s MB.", name=label, mb=limit // (1024 * 1024))
        raise ValidationFailed(message, errors={field: [message]})
    content_type = sniff(data)
    if content_type is None:
        message = _("%(name)s is not a PDF, image (PNG, JPEG, GIF, WebP) or plain-text file.", name=label)
        raise ValidationFailed(message, errors={field: [message]})
    return content_type


def store_upload(area: str, filename: str, data: bytes, *, field: str = "files") -> StoredFile:
    """Validate and write one file; returns what to record about it."""
    return save_upload(area, filename, data, validate_upload(filename, data, field=field))


def save_upload(area: str, filename: str, data: bytes, content_type: str) -> StoredFile:
    """Write a file the caller has checked (size, `sniff`) under a new random key; returns what to record."""
    key = secrets.token_hex(24)
    path = os.path.join(_folder(area), key)
    with open(path + ".part", "xb") as handle:
        handle.write(data)
    os.replace(path + ".part", path)  # nobody reads a half-written file under its key
    return StoredFile(storage_key=key, original_filename=clean_filename(filename), content_type=content_type,
                      size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())


def upload_path(area: str, storage_key: str) -> str:
    """Where a stored file is; the key is ours (hex), never a path from a request."""
    if not storage_key or not all(ch in "0123456789abcdef" for ch in storage_key):
        raise ValueError("bad storage key")
    return os.path.join(_folder(area), storage_key)


DOWNLOAD_CSP = "default-src 'none'; sandbox"
"""A stored file opened anyway (a browser ignoring the attachment) runs nothing and reaches nothing."""


def send_stored(path: str | os.PathLike[str], *, content_type: str, download_name: str) -> Response:
    """An uploaded file as a download, the one way every stored upload is sent (proposal attachments,
    milestone evidence; pages and API): always an attachment, never sniffed by the browser, under the
    sandbox CSP, and never kept by a cache (`no-store`) — an SVG or HTML file sent as text cannot run.

    NotFound when the stored file is missing (the row outlived its file)."""
    if not os.path.isfile(path):
        raise NotFound(_("There is no such file."))
    response = send_file(path, mimetype=content_type, as_attachment=True, download_name=download_name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    return response
