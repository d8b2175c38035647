"""A donor's PDF receipt for a confirmed contribution (fpdf2, no system tool).

The receipt is numbered from the contribution (`UIF-R-000042`, one per contribution, so a receipt
downloaded twice is the same receipt), and gives the facility's name, the donor, the amount and
date received, the method and the pledge reference. Only received contributions have one; the
policy (`can_download_receipt`) says who may download it.

Names come in every script, so the receipt is written with a Unicode TrueType font:
`RECEIPT_FONT_PATH` in the configuration, else the project's own copy of DejaVu Sans
(`data/fonts/`, Bitstream Vera licence beside it), so no system font is needed. Text is shaped with
HarfBuzz (the `uharfbuzz` wheel), so Arabic letters are joined and read right to left. A letter the
font cannot draw (Chinese, Japanese and Korean: DejaVu Sans has no CJK glyphs, and a CJK font would
weigh 15 MB; point `RECEIPT_FONT_PATH` at one such as Noto Sans CJK) is shown as "?" and the receipt
says that some letters could not be printed, so it never fails to render. Without any font file the
text falls back to the PDF core font, transliterated to Latin-1 where Unicode decomposes it (é -> e).
"""
from __future__ import annotations

import importlib.util
import unicodedata
from collections.abc import Callable, Iterable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from fpdf import FPDF

from facility.core.labels import label
from facility.core.templating import money
from facility.grants.models import Contribution

DEFAULT_FACILITY_NAME = "Urban Innovation Facility"
BUNDLED_FONT = Path(__file__).parent / "data" / "fonts" / "DejaVuSans.ttf"
FONT_CANDIDATES = (
    str(BUNDLED_FONT),
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)
FONT_NAME = "ReceiptSans"


def receipt_number(contribution: Contribution) -> str:
    return f"UIF-R-{contribution.id:06d}"


def receipt_filename(contribution: Contribution) -> str:
    return f"receipt-{receipt_number(contribution)}.pdf"


def _matplotlib_font() -> str | None:
    """matplotlib's DejaVu Sans, found without importing matplotlib (only its font file is wanted)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    return str(path) if path.is_file() else None


@cache
def _found_font(configured: str | None) -> str | None:
    for candidate in (configured, *FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    return _matplotlib_font()


def font_path() -> str | None:
    """The Unicode TrueType font receipts are written with (None: the Latin-1 fallback)."""
    return _found_font(current_app.config.get("RECEIPT_FONT_PATH"))


def latin1(text: str) -> str:
    """`text` in Latin-1 for the PDF core font: decomposed where Unicode can (é -> e), else "?"."""
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
            continue
        plain = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        out.append(plain or "?")
    return "".join(out)


def donor_name(contribution: Contribution) -> str:
    """Who gave: the donor organisation, else the person who pledged (the receipt is private)."""
    if contribution.donor_organization is not None:
        return contribution.donor_organization.name
    return contribution.pledged_by.name


def receipt_lines(contribution: Contribution, *, facility_name: str) -> list[tuple[str, str]]:
    """The receipt's facts as (label, value) pairs, in order."""
    received_on: date | None = contribution.received_on or (
        contribution.received_at.date() if contribution.received_at else None)
    return [
        (_("Receipt number"), receipt_number(contribution)),
        (_("Received by"), facility_name),
        (_("Donor"), donor_name(contribution)),
        (_("Amount received"), money(contribution.received_cents or contribution.amount_cents)),
        (_("Date received"), received_on.isoformat() if received_on else "—"),
        (_("Method"), str(label(contribution.method))),
        (_("Pledge reference"), contribution.reference),
    ]


def render_receipt(contribution: Contribution) -> bytes:
    """The PDF receipt of a received contribution, as bytes (the caller checks the policy)."""
    facility_name = str(current_app.config.get("FACILITY_NAME") or DEFAULT_FACILITY_NAME)
    lines = receipt_lines(contribution, facility_name=facility_name)
    pdf = FPDF(format="A4")
    pdf.set_title(f"{facility_name}: {receipt_number(contribution)}")
    pdf.set_creator(facility_name)
    path = font_path()
    if path:
        pdf.add_font(FONT_NAME, fname=path)
        pdf.set_text_shaping(True)  # HarfBuzz: Arabic joined and right to left, marks placed
        family = FONT_NAME
        font: Any = pdf.fonts[FONT_NAME.lower()]  # a TTFFont: it has the cmap of what it can draw
        clean = _covered_by(font.cmap)
    else:
        family, clean = "Helvetica", latin1
    lossy = any(clean(text) != text for pair in lines for text in pair)
    pdf.add_page()
    pdf.set_font(family, size=18)
    pdf.multi_cell(0, 10, clean(facility_name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=14)
    pdf.multi_cell(0, 9, clean(_("Contribution receipt")), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    _write_pairs(pdf, family, ((clean(k), clean(v)) for k, v in lines))
    pdf.ln(6)
    pdf.set_font(family, size=10)
    thanks = _("Thank you. This receipt confirms that the facility received your contribution; it is "
               "recorded in the facility's ledger and shown on the public ledger.")
    pdf.multi_cell(0, 6, clean(thanks), new_x="LMARGIN", new_y="NEXT")
    if lossy:
        pdf.multi_cell(0, 6, clean(_("Some letters of the names above could not be printed in this copy.")),
                       new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _covered_by(cmap: Any) -> Callable[[str], str]:
    """Keep what the font can draw; a letter it lacks (e.g. Chinese in DejaVu Sans) becomes "?"."""
    def clean(text: str) -> str:
        return "".join(char if ord(char) in cmap or char in "\n\t" else "?" for char in text)
    return clean


def _write_pairs(pdf: FPDF, family: str, pairs: Iterable[tuple[str, str]]) -> None:
    for key, value in pairs:
        pdf.set_font(family, size=11)
        pdf.cell(55, 8, key)
        pdf.multi_cell(0, 8, value, new_x="LMARGIN", new_y="NEXT")
