"""Attachments: judged by content, size and count limits, stored by random key outside the
web root, downloads checked by `can_view` with safe headers, deletion from drafts."""
from __future__ import annotations

import io
import os

import pytest

from facility.extensions import db
from facility.proposals import services
from facility.proposals.models import Attachment
from tests.conftest import get_csrf
from tests.proposals.conftest import AFTER_CLOSE

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
HTML = b"<!doctype html><script>alert(1)</script>"
EXE = b"MZ\x90\x00" + b"\x00" * 64


def _upload_api(client, headers, proposal, content, name="file.pdf", content_type="application/pdf"):
    return client.post(f"/api/v1/proposals/{proposal.id}/attachments", headers=headers,
                       data={"file": (io.BytesIO(content), name, content_type)}, content_type="multipart/form-data")


@pytest.mark.parametrize("content,expected", [(PDF, "application/pdf"), (PNG, "image/png"),
                                              (JPEG, "image/jpeg"), (WEBP, "image/webp")])
def test_allowed_types_judged_by_content(client, challenge, innovator, make_proposal, api_headers, content, expected):
    proposal = make_proposal(challenge)
    # The name and declared type lie on purpose: only the bytes count.
    response = _upload_api(client, api_headers(innovator), proposal, content, name="report.pdf",
                           content_type="text/plain")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["content_type"] == expected and body["size_bytes"] == len(content)


@pytest.mark.parametrize("content", [HTML, EXE, b"plain text", b"GIF89a" + b"\x00" * 10])
def test_other_content_refused_even_with_a_pdf_name(client, challenge, innovator, make_proposal, api_headers, content):
    proposal = make_proposal(challenge)
    response = _upload_api(client, api_headers(innovator), proposal, content, name="cv.pdf")
    assert response.status_code == 422
    assert "file" in response.get_json()["errors"]
    assert db.session.query(Attachment).count() == 0


def test_pdf_name_with_png_content_is_a_png(app, client, challenge, innovator, make_proposal, api_headers):
    proposal = make_proposal(challenge)
    body = _upload_api(client, api_headers(innovator), proposal, PNG, name="scan.pdf").get_json()
    assert body["content_type"] == "image/png"
    stored = db.session.get(Attachment, body["id"])
    path = services.attachment_path(stored)
    assert path.read_bytes() == PNG
    # Stored under the instance folder by a random key, never the user's file name.
    assert str(path).startswith(os.path.join(app.instance_path, "attachments"))
    assert "scan" not in str(path) and stored.storage_key in str(path)
    assert not str(path).startswith(app.static_folder)


def test_size_limit(app, client, challenge, innovator, make_proposal, api_headers, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 100)
    proposal = make_proposal(challenge)
    headers = api_headers(innovator)
    assert _upload_api(client, headers, proposal, PDF + b"x" * (100 - len(PDF))).status_code == 201
    response = _upload_api(client, headers, proposal, PDF + b"x" * (101 - len(PDF)))
    assert response.status_code == 422 and "file" in response.get_json()["errors"]
    assert _upload_api(client, headers, proposal, b"").status_code == 422


def test_default_limit_is_10_mb(app):
    assert app.config["ATTACHMENT_MAX_BYTES"] == 10 * 1024 * 1024


def test_count_limit(app, client, challenge, innovator, make_proposal, api_headers, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_COUNT", 2)
    proposal = make_proposal(challenge)
    headers = api_headers(innovator)
    assert _upload_api(client, headers, proposal, PDF).status_code == 201
    assert _upload_api(client, headers, proposal, PNG).status_code == 201
    response = _upload_api(client, headers, proposal, JPEG)
    assert response.status_code == 422
    assert db.session.query(Attachment).count() == 2


def test_upload_refusals(client, clock, challenge, innovator, other_innovator, fund_manager, make_proposal,
                         api_headers):
    proposal = make_proposal(challenge)
    assert _upload_api(client, {}, proposal, PDF).status_code == 401
    assert _upload_api(client, api_headers(other_innovator), proposal, PDF).status_code == 404
    assert _upload_api(client, api_headers(fund_manager), proposal, PDF).status_code == 403
    headers = api_headers(innovator)
    response = client.post(f"/api/v1/proposals/{proposal.id}/attachments", headers=headers, data={},
                           content_type="multipart/form-data")
    assert response.status_code == 422  # no file
    from facility.proposals import services as s

    s.submit_proposal(actor=innovator, proposal=proposal)
    db.session.commit()
    assert _upload_api(client, headers, proposal, PDF).status_code == 409  # locked after submission
    assert db.session.query(Attachment).count() == 0


def test_download_headers_and_permissions(app, clock, client, challenge, innovator, other_innovator, official,
                                          fund_manager, make_proposal, api_headers, login):
    proposal = make_proposal(challenge)
    body = _upload_api(client, api_headers(innovator), proposal, PNG, name='a"b<c>.pdf').get_json()
    page_url = f"/proposals/{proposal.id}/attachments/{body['id']}"
    api_url = f"/api/v1/proposals/{proposal.id}/attachments/{body['id']}"
    assert body["url"] == api_url

    response = client.get(api_url, headers=api_headers(innovator))
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<" not in response.headers["Content-Disposition"]

    owner = app.test_client()
    login(owner, innovator)
    response = owner.get(page_url)
    assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"

    assert app.test_client().get(page_url).status_code == 404
    assert client.get(api_url).status_code == 401
    for user in (other_innovator, official):
        assert client.get(api_url, headers=api_headers(user)).status_code == 404
        other = app.test_client()
        login(other, user)
        assert other.get(page_url).status_code == 404
    assert client.get(api_url, headers=api_headers(fund_manager)).status_code == 200
    # An attachment id under another proposal's URL is not found.
    second = make_proposal(challenge, user=other_innovator)
    assert client.get(f"/api/v1/proposals/{second.id}/attachments/{body['id']}",
                      headers=api_headers(other_innovator)).status_code == 404


def test_city_official_downloads_after_close(clock, client, challenge, innovator, official, make_proposal,
                                             api_headers):
    proposal = make_proposal(challenge)
    aid = _upload_api(client, api_headers(innovator), proposal, PDF).get_json()["id"]
    services.submit_proposal(actor=innovator, proposal=db.session.get(type(proposal), proposal.id))
    db.session.commit()
    headers = api_headers(official)
    url = f"/api/v1/proposals/{proposal.id}/attachments/{aid}"
    assert client.get(url, headers=headers).status_code == 404
    clock.move_to(AFTER_CLOSE)
    assert client.get(url, headers=headers).status_code == 200


def test_upload_and_delete_on_the_page(app, client, login, challenge, innovator, other_innovator, make_proposal):
    proposal = make_proposal(challenge)
    login(client, innovator)
    show = f"/proposals/{proposal.id}"
    response = client.post(f"{show}/attachments", content_type="multipart/form-data", data={
        "csrf_token": get_csrf(client, show), "file": (io.BytesIO(PDF), "plan.pdf")})
    assert response.status_code == 302
    attachment = db.session.query(Attachment).one()
    path = services.attachment_path(attachment)
    assert path.exists() and "plan.pdf" in client.get(show).get_data(as_text=True)

    response = client.post(f"{show}/attachments", content_type="multipart/form-data", data={
        "csrf_token": get_csrf(client, show), "file": (io.BytesIO(HTML), "evil.pdf")})
    assert response.status_code == 422
    assert "Upload a PDF, PNG, JPEG or WebP file." in response.get_data(as_text=True)

    # Another organisation cannot delete it.
    other = app.test_client()
    login(other, other_innovator)
    url = f"{show}/attachments/{attachment.id}/delete"
    assert other.post(url, data={"csrf_token": get_csrf(other, "/dashboard")}).status_code == 404

    assert client.post(url, data={"csrf_token": get_csrf(client, show)}).status_code == 302
    db.session.expire_all()
    assert db.session.query(Attachment).count() == 0
    assert not path.exists()


def test_delete_refused_after_submission(client, challenge, innovator, make_proposal, api_headers):
    proposal = make_proposal(challenge)
    headers = api_headers(innovator)
    aid = _upload_api(client, headers, proposal, PDF).get_json()["id"]
    assert client.post(f"/api/v1/proposals/{proposal.id}/submit", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/proposals/{proposal.id}/attachments/{aid}", headers=headers).status_code == 409
    assert db.session.query(Attachment).count() == 1


def test_delete_via_api(client, challenge, innovator, fund_manager, make_proposal, api_headers):
    proposal = make_proposal(challenge)
    headers = api_headers(innovator)
    aid = _upload_api(client, headers, proposal, PDF).get_json()["id"]
    url = f"/api/v1/proposals/{proposal.id}/attachments/{aid}"
    assert client.delete(url, headers=api_headers(fund_manager)).status_code == 403
    assert client.delete(url, headers=headers).status_code == 204
    assert client.delete(url, headers=headers).status_code == 404


def test_snapshot_lists_attachments(client, challenge, innovator, make_proposal, api_headers):
    proposal = make_proposal(challenge)
    headers = api_headers(innovator)
    _upload_api(client, headers, proposal, PDF, name="budget.pdf")
    client.post(f"/api/v1/proposals/{proposal.id}/submit", headers=headers)
    db.session.expire_all()
    snapshot = db.session.get(type(proposal), proposal.id).latest_snapshot
    [entry] = snapshot.data["attachments"]
    assert entry["original_filename"] == "budget.pdf" and entry["content_type"] == "application/pdf"
    assert len(entry["sha256"]) == 64
