"""Finding: milestone evidence (SVG and HTML are accepted as text) was served with `no-cache` and no
sandbox; it is now sent exactly like a proposal attachment, by the one function for both."""
from __future__ import annotations

import os

import pytest

from facility.core.uploads import upload_path
from facility.extensions import db
from facility.grants import milestones
from tests.factories.grants import NO_SPENDING

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
HTML = b"<!doctype html><html><body><script>fetch('/api/v1/me')</script></body></html>"


@pytest.mark.parametrize(("name", "data"), [("drawing.svg", SVG), ("page.html", HTML), ("proof.pdf", b"%PDF-1.4 x")])
def test_evidence_is_a_sandboxed_attachment_never_stored(client, login, active_grant, name, data):
    grant, manager, grantee = active_grant
    report = milestones.submit_milestone_report(tranche=grant.tranches[0], actor=grantee, text="Done",
                                                spending=NO_SPENDING, files=[(name, data)])
    db.session.commit()
    login(client, grantee)
    response = client.get(f"/evidence/{report.files[0].id}")
    assert response.status_code == 200 and response.data == data
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response.headers["Cache-Control"] and "no-cache" not in response.headers["Cache-Control"]
    assert not response.mimetype.startswith(("image/svg", "text/html"))


def test_a_missing_evidence_file_is_404_not_500(client, login, active_grant, app):
    grant, manager, grantee = active_grant
    report = milestones.submit_milestone_report(tranche=grant.tranches[0], actor=grantee, text="Done",
                                                spending=NO_SPENDING, files=[("a.pdf", b"%PDF-1.4 y")])
    db.session.commit()
    with app.test_request_context():
        os.remove(upload_path(milestones.EVIDENCE_AREA, report.files[0].storage_key))
    login(client, grantee)
    assert client.get(f"/evidence/{report.files[0].id}").status_code == 404
