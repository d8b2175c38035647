"""Donor receipts: a PDF for a received contribution, for its donor (and staff) only; and what the
facility has funded since, on the contribution page."""
from __future__ import annotations

import pytest
from fpdf import FPDF

from facility.accounts.models import OrgKind
from facility.extensions import db
from facility.grants import contributions, receipts
from tests.conftest import get_csrf
from tests.factories.accounts import make_org, make_user
from tests.portfolio import public_scene


def _received(donor, manager, clock, cents=250_000):
    item = contributions.pledge_contribution(actor=donor, amount_cents=cents, method="wire")
    contributions.confirm_wire_contribution(contribution=item, actor=manager, received_cents=cents,
                                            received_on=clock.now.date(), bank_reference="REF-1")
    db.session.commit()
    return item


def _signout(client):
    client.post("/signout", data={"csrf_token": get_csrf(client, "/")})


def test_owner_downloads_a_pdf_receipt(client, login, clock):
    manager = make_user("fund_manager")
    donor = make_user("donor", organization=make_org(name="Harbour Foundation", kind=OrgKind.DONOR))
    item = _received(donor, manager, clock)
    login(client, donor)
    page = client.get(f"/contributions/{item.id}").get_data(as_text=True)
    assert f'href="/contributions/{item.id}/receipt.pdf"' in page
    response = client.get(f"/contributions/{item.id}/receipt.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert f"receipt-UIF-R-{item.id:06d}.pdf" in response.headers["Content-Disposition"]
    lines = dict(receipts.receipt_lines(item, facility_name="Urban Innovation Facility"))
    assert lines["Receipt number"] == f"UIF-R-{item.id:06d}" and lines["Amount received"] == "USD 2,500.00"
    assert lines["Donor"] == "Harbour Foundation" and lines["Method"] == "Wire"
    assert lines["Date received"] == clock.now.date().isoformat()


def test_staff_may_download_others_may_not(client, login, clock):
    manager = make_user("fund_manager")
    donor = make_user("donor", organization=make_org(name="Harbour Foundation", kind=OrgKind.DONOR))
    item = _received(donor, manager, clock)
    path = f"/contributions/{item.id}/receipt.pdf"
    anonymous = client.get(path)
    assert anonymous.status_code == 302 and "/signin" in anonymous.headers["Location"]
    other_donor = make_user("donor", organization=make_org(name="Other Fund", kind=OrgKind.DONOR))
    innovator = make_user("innovator")
    for user, status in ((other_donor, 404), (innovator, 404), (manager, 200)):
        login(client, user)
        assert client.get(path).status_code == status, user.email
        _signout(client)


def test_unconfirmed_contribution_has_no_receipt(client, login, clock):
    donor = make_user("donor")
    item = contributions.pledge_contribution(actor=donor, amount_cents=100_000, method="wire")
    db.session.commit()
    login(client, donor)
    assert client.get(f"/contributions/{item.id}/receipt.pdf").status_code == 409
    assert "receipt.pdf" not in client.get(f"/contributions/{item.id}").get_data(as_text=True)


@pytest.mark.parametrize("name", ["مؤسسة المدن المستدامة", "北京城市创新基金会", "Zoë Ångström-Łukasiewicz",
                                  "Ёлка 🌍 \u200f mixed"])
def test_names_in_any_script_do_not_crash(app, clock, name):
    manager = make_user("fund_manager")
    donor = make_user("donor", organization=make_org(name=name, kind=OrgKind.DONOR))
    item = _received(donor, manager, clock)
    assert receipts.render_receipt(item).startswith(b"%PDF")


def test_latin1_fallback_without_a_font(app, clock, monkeypatch):
    monkeypatch.setattr(receipts, "font_path", lambda: None)
    manager = make_user("fund_manager")
    donor = make_user("donor", organization=make_org(name="Zoë 北京", kind=OrgKind.DONOR))
    item = _received(donor, manager, clock)
    assert receipts.render_receipt(item).startswith(b"%PDF")
    assert receipts.latin1("Zoë Ćwik 北") == "Zoë Cwik ?"


def test_what_the_facility_has_funded_since(client, login, clock):
    scene = public_scene.build(clock)  # the donor's gift arrived before this grant was awarded
    login(client, scene.donor)
    html = client.get(f"/contributions/{scene.contribution.id}").get_data(as_text=True)
    assert "What the facility has funded since" in html
    assert "awarded 1 grant worth USD 30,000.00" in html and f'href="/grants/{scene.grant.id}"' in html
    later = _received(scene.donor, scene.manager, clock)
    html = client.get(f"/contributions/{later.id}").get_data(as_text=True)
    assert "awarded 0 grants worth USD 0.00" in html


def test_the_bundled_font_prints_arabic_cyrillic_and_latin_names(app):
    """The project ships its font (no system font needed) and it draws these scripts whole."""
    path = receipts.font_path()
    assert path == str(receipts.BUNDLED_FONT) and receipts.BUNDLED_FONT.is_file()
    pdf = FPDF()
    pdf.add_font("receipt", fname=path)
    clean = receipts._covered_by(pdf.fonts["receipt"].cmap)
    for name in ("مؤسسة المدن المستدامة", "Zoë Ångström-Łukasiewicz", "Ёлка"):
        assert clean(name) == name
    assert clean("北京") == "??"  # no CJK glyphs: shown as "?", and the receipt says so
