"""A proposal's file as a download: the one response the pages and the API both send."""
from __future__ import annotations

from flask import Response

from facility.core.uploads import send_stored
from facility.proposals.models import Attachment
from facility.proposals.services import attachment_path


def send_attachment(attachment: Attachment) -> Response:
    """The stored file as a download: sniffed type, never rendered inline, never sniffed by the browser.

    NotFound when the stored file is missing (the row outlived its file)."""
    return send_stored(attachment_path(attachment), content_type=attachment.content_type,
                       download_name=attachment.original_filename)
