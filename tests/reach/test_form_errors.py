"""Form errors the way people need them (issue 14): every problem at once, the summary announced and
focused, "Error:" in the title, fields in error marked beyond colour, upload errors at the field and
in the summary, radio and checkbox groups in fieldsets with legends."""
from __future__ import annotations

import io
import re

import pytest

from facility.accounts.models import Organization, OrgKind, User
from facility.extensions import db
from facility.grants import awards
from facility.grants.models import MilestoneReport
from facility.proposals.models import Attachment
from tests import factories
from tests.conftest import SIGNUP_PASSWORD, get_csrf, post_signup
from tests.grants.conftest import fund, make_challenge, make_proposal  # noqa: F401 (fixtures)
from tests.review.conftest import assign
from tests.review.conftest import build_world as build_review_world

GOOD = SIGNUP_PASSWORD
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer\n%%EOF\n"
HTML = b"<!doctype html><script>alert(1)</script>"
EXE = b"MZ\x90\x00" + b"\x00" * 64


def _title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()


def _autofocused(html: str) -> list[str]:
    """The opening tags that carry `autofocus`."""
    return [tag for tag in re.findall(r"<[a-z]+\b[^>]*>", html) if re.search(r"\sautofocus(?:[\s=>]|$)", tag)]


def _summary(html: str) -> str:
    match = re.search(r'<div class="error-summary"[^>]*>.*?</div>', html, re.S)
    assert match, "no error summary"
    return match.group(0)


def _field_errors(html: str, field_id: str) -> str:
    match = re.search(rf'<ul class="errors" id="{re.escape(field_id)}-error">(.*?)</ul>', html, re.S)
    assert match, f"no errors at #{field_id}"
    return match.group(1)


def _assert_error_page(html: str, title: str) -> None:
    """'Error:' starts the title, the summary is the page's one autofocused element, announced."""
    assert _title(html).startswith(f"Error: {title}"), _title(html)
    focused = _autofocused(html)
    assert len(focused) == 1 and 'class="error-summary"' in focused[0] and 'role="alert"' in focused[0]
    assert 'tabindex="-1"' in focused[0]


_signup = post_signup  # the sign-up form posted with good values, `overrides` replacing some


# --- sign-up: every problem at once ---------------------------------------------------------------------

def test_signup_reports_personal_and_organisation_problems_together(client):
    response = _signup(client, email="not-an-email", password="short", org_name="", org_country="", org_type="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field_id in ("email", "password", "org_name", "org_country", "org_type"):
        assert 'Error:' in _field_errors(html, field_id)
        assert f'href="#{field_id}"' in _summary(html)
    assert "Enter the organisation&#39;s name." in html and "Choose the type of organisation." in html
    assert "at least 12 characters" in _field_errors(html, "password").lower()
    assert db.session.query(User).count() == 0 and db.session.query(Organization).count() == 0
    _assert_error_page(html, "Sign up")


def test_signup_says_each_problem_once(client):
    html = _signup(client, name="", email="not-an-email").get_data(as_text=True)
    assert _field_errors(html, "name").count("<li>") == 1
    assert _field_errors(html, "email").count("<li>") == 1


def test_signup_reports_a_taken_address_with_the_form_problems(client, make_user):
    make_user("innovator", email="taken@example.org")
    html = _signup(client, email="taken@example.org", name="", org_country="").get_data(as_text=True)
    assert "already exists" in _field_errors(html, "email")
    assert _field_errors(html, "name") and _field_errors(html, "org_country")
    assert db.session.query(User).count() == 1


def test_signup_without_errors_has_a_plain_title_and_no_autofocus(client):
    html = client.get("/signup").get_data(as_text=True)
    assert not _title(html).startswith("Error:")
    assert _autofocused(html) == [] and "error-summary" not in html
    assert _signup(client).status_code == 302  # and a good sign-up still goes through


def test_api_signup_gives_every_problem_in_one_answer(client):
    response = client.post("/api/v1/users", json={"email": "nope", "password": "x", "name": "", "role": "innovator",
                                                   "organization": {"name": "", "country": "K"}})
    assert response.status_code == 422
    errors = response.json["errors"]
    # The schema's refusals and the sign-up rules' (the password, the organisation's type) together.
    assert {"email", "name", "password", "organization.name", "organization.country",
            "organization.org_type"} <= set(errors)
    assert all(len(messages) == len(set(messages)) for messages in errors.values())
    assert len(errors["email"]) == 1  # not said twice, once by the schema and once by the rules
    assert db.session.query(User).count() == 0


# --- the title and the focused summary on other forms --------------------------------------------------

@pytest.fixture
def applicant(make_user, make_org):
    """An innovator of an organisation without a proposal yet."""
    return make_user("innovator", organization=make_org(name="Kiosk Co", kind=OrgKind.INNOVATOR, country="UGA"))


def test_proposal_form_errors(client, login, world, applicant):
    login(client, applicant)
    path = f"/challenges/{world.challenge.id}/proposals/new"
    response = client.post(path, data={"csrf_token": get_csrf(client, path), "title": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    _assert_error_page(html, "New proposal")
    assert 'href="#title"' in _summary(html)
    assert 'class="field field--error"' in html


@pytest.fixture
def send_review(client, login, make_user, make_org):
    """`send_review(**fields)`: a reviewer signed in on `client` sends their assignment's review form
    (criterion i's score as `c<i>`); returns the response and the criteria."""
    review_world = build_review_world(make_user, make_org)
    assignment = assign(review_world, review_world.reviewers[0], review_world.proposals[0])
    login(client, review_world.reviewers[0])
    path = f"/review/assignments/{assignment.id}"

    def _send(**fields):
        criteria = review_world.criteria
        data = {"csrf_token": get_csrf(client, path), "submit_review": "1"}
        for name, value in fields.items():
            data[f"c_{criteria[int(name[1:])].id}" if re.fullmatch(r"c[0-9]", name) else name] = value
        return client.post(path, data=data), criteria

    return _send


def test_review_form_errors(send_review):
    response, _criteria = send_review(c0="7")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _title(html).startswith("Error: ")
    _assert_error_page(html, "")
    assert "A comment is required." in _summary(html)


def test_contribution_form_errors_and_its_radio_groups(client, login, make_user, make_org):
    donor = make_user("donor", organization=make_org(name="Fund", kind=OrgKind.DONOR, country="NOR"))
    login(client, donor)
    response = client.post("/contributions", data={"csrf_token": get_csrf(client, "/contributions"),
                                                   "amount": "", "method": "wire", "earmark_kind": "nonsense"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    _assert_error_page(html, "Contributions")
    assert 'href="#amount"' in _summary(html)
    # The hand-written earmark group: its errors are tied to the fieldset and linked to its first option.
    assert re.search(r'<fieldset class="field field--error" aria-describedby="earmark-hint earmark_kind-error">'
                     r'\s*<legend>What may your money pay for\?</legend>', html)
    assert 'href="#earmark_kind-0"' in _summary(html) and 'id="earmark_kind-0"' in html
    # The payment method, a RadioField through the `field` macro: a fieldset with a legend.
    assert re.search(r'<fieldset class="field">\s*<legend>How will you pay\? <span class="required">', html)


# --- uploads: at the field and in the summary -----------------------------------------------------------

def _draft(world, applicant):
    return factories.proposals.make_proposal(world.challenge, applicant)


def _attach(client, proposal, content, name="plan.pdf", **extra):
    show = f"/proposals/{proposal.id}"
    data = {"csrf_token": get_csrf(client, show), **extra}
    if content is not None:
        data["file"] = (io.BytesIO(content), name)
    return client.post(f"{show}/attachments", content_type="multipart/form-data", data=data)


@pytest.mark.parametrize("content,message", [
    (HTML, "Upload a PDF, PNG, JPEG or WebP file."),  # refused by the service, through `attempt`
    (b"", "Choose a file."),  # an empty file input: no file chosen
    (None, "Choose a file."),  # missing
])
def test_attachment_errors_at_the_field_and_in_the_summary(client, login, world, applicant, content, message):
    proposal = _draft(world, applicant)
    login(client, applicant)
    response = _attach(client, proposal, content, name="" if content == b"" else "plan.pdf")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in _field_errors(html, "file")
    assert 'href="#file">' in _summary(html) and message in _summary(html)
    assert 'aria-invalid="true"' in re.search(r'<input[^>]*id="file"[^>]*>', html).group(0)
    _assert_error_page(html, proposal.title)
    assert db.session.query(Attachment).count() == 0


def test_attachment_too_large_for_the_service(app, client, login, world, applicant, monkeypatch):
    monkeypatch.setitem(app.config, "ATTACHMENT_MAX_BYTES", 64)
    proposal = _draft(world, applicant)
    login(client, applicant)
    html = _attach(client, proposal, PDF + b"x" * 100).get_data(as_text=True)
    assert "larger than" in _field_errors(html, "file") and "larger than" in _summary(html)


@pytest.fixture
def grantee_tranche(make_challenge, make_proposal, make_user, fund):  # noqa: F811 (the grants fixtures)
    """The first tranche of an accepted grant, and its grantee."""
    challenge = make_challenge()
    proposal = make_proposal(challenge, amounts=(1_000_000,))
    fund(challenge=challenge, pool=5_000_000)
    grantee = make_user("innovator", organization=proposal.organization)
    grant = awards.award_proposal(proposal=proposal, actor=make_user("fund_manager"), amount_cents=1_000_000)
    awards.accept_grant(grant=grant, actor=grantee)
    db.session.commit()
    return grant.tranches[0], grantee


def _evidence(client, tranche, *, text="Pilot live", files=(), **extra):
    path = f"/tranches/{tranche.id}/evidence"
    data = {"csrf_token": get_csrf(client, path), "text": text,
            **{f"spending_{name}": "0" for name in ("personnel", "equipment", "services", "travel", "other")},
            "files": [(io.BytesIO(content), name) for name, content in files], **extra}
    return client.post(path, data=data, content_type="multipart/form-data")


def test_evidence_file_errors_show_with_the_other_problems(client, login, grantee_tranche):
    tranche, grantee = grantee_tranche
    login(client, grantee)
    response = _evidence(client, tranche, text="", files=[("evil.exe", EXE), ("empty.pdf", b"")],
                         spending_travel="")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    files = _field_errors(html, "files")
    assert "evil.exe is not a PDF" in files and "empty.pdf is empty." in files
    # The form's own problems in the same answer: the files were judged although the text is missing.
    assert _field_errors(html, "text") and _field_errors(html, "spending_travel")
    summary = _summary(html)
    assert 'href="#files"' in summary and 'href="#text"' in summary and 'href="#spending_travel"' in summary
    _assert_error_page(html, "Report a milestone")
    assert db.session.query(MilestoneReport).count() == 0


def test_evidence_file_too_large(app, client, login, grantee_tranche, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1024 * 1024)
    tranche, grantee = grantee_tranche
    login(client, grantee)
    html = _evidence(client, tranche, files=[("big.pdf", PDF + b"x" * (1024 * 1024))]).get_data(as_text=True)
    assert "big.pdf is larger than 1 MB." in _field_errors(html, "files") and "big.pdf" in _summary(html)
    assert db.session.query(MilestoneReport).count() == 0


def test_a_request_too_large_gets_a_clear_page(app, client, login, grantee_tranche, monkeypatch):
    tranche, grantee = grantee_tranche
    login(client, grantee)
    path = f"/tranches/{tranche.id}/evidence"
    token = get_csrf(client, path)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    response = client.post(path, data={"csrf_token": token, "text": "Pilot",
                                       "files": [(io.BytesIO(PDF + b"x" * (2 * 1024 * 1024)), "huge.pdf")]},
                           content_type="multipart/form-data", headers={"Referer": f"http://localhost{path}"})
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "<h1>The upload is too large</h1>" in html
    assert "larger than 1 MB altogether" in html and "nothing was saved" in html
    assert f'<a href="{path}">Go back to the form</a>' in html
    assert db.session.query(MilestoneReport).count() == 0


# --- groups of options: fieldsets and legends -----------------------------------------------------------

def test_checkbox_group_is_a_fieldset_with_its_legend(client, login, world, applicant):
    login(client, applicant)
    html = client.get(f"/challenges/{world.challenge.id}/proposals/new").get_data(as_text=True)
    group = re.search(r'<fieldset class="field"[^>]*>\s*<legend>Who benefits</legend>.*?</fieldset>', html, re.S)
    assert group, "the checkbox group is not in a fieldset with its legend"
    boxes = re.findall(r'<li><input id="([^"]+)"[^>]*type="checkbox"[^>]*> <label for="([^"]+)"', group.group(0))
    assert boxes and all(box == label for box, label in boxes)  # each box beside its own label


def test_a_radio_group_in_error_ties_its_hint_and_errors_to_the_fieldset(send_review):
    response, (_c1, c2) = send_review(c0="7", comment="Fine")
    html = response.get_data(as_text=True)
    fieldset = re.search(r'<fieldset class="field field--error" aria-describedby="([^"]*)">\s*<legend>[^<]*'
                         r'(?:<span[^>]*>[^<]*</span>)?</legend>(.*?)</fieldset>', html, re.S)
    assert fieldset, "the criterion in error is not a fieldset tied to its errors"
    described = fieldset.group(1).split()
    assert f"c_{c2.id}-error" in described
    for target in described:
        assert f'id="{target}"' in fieldset.group(2)
    assert f'href="#c_{c2.id}-0"' in _summary(html) and f'id="c_{c2.id}-0"' in html
