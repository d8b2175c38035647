"""A proposal's file as a download: the one response the pages and the API both send."""
from __future__ import annotations

from flask import Response, send_file
from flask_babel import gettext as _

from facility.core.errors import NotFound
from facility.proposals.models import Attachment
from facility.proposals.services import attachment_path


def send_attachment(attachment: Attachment) -> Response:
    """The stored file as a download: sniffed type, never rendered inline, never sniffed by the browser.

    NotFound when the stored file is missing (the row outlived its file)."""
    path = attachment_path(attachment)
    if not path.is_file():
        raise NotFound(_("There is no such file."))
    response = send_file(path, mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.original_filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
