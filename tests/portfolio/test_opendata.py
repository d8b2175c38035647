"""The open data (/opendata/): 360Giving 1.4.3, IATI 2.03, CSV and XLSX, for everyone.

Every export is checked by the official validators (`../shared/tools/validate_opendata.py`,
the schemas in `../shared/standards/`), also on Hypothesis-generated grants; the three formats
are compared fact by fact; nothing private leaks; the files are cached by ETag.

Grants are built as rows (`add_grant`), not through the award services: the tests need states the
services reach only after many steps (all tranches paid, a cancelled grant with payments, a payment
dated tomorrow). `test_demo_*` covers data built by the real services (seed-demo).
"""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import openpyxl
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from facility.accounts.models import Organization, OrgKind, OrgType, User
from facility.challenges.models import Challenge, ChallengeStatus, FocusArea
from facility.cities.models import City, ClimateRisk
from facility.core.models import utcnow
from facility.disbursements.models import Disbursement, DisbursementStatus
from facility.extensions import db
from facility.grants.models import Grant as GrantRow
from facility.grants.models import GrantStatus, PayoutAccount, Tranche
from facility.portfolio.opendata import source
from facility.portfolio.opendata.threesixty import dollars_number
from facility.proposals.models import Proposal, ProposalStatus
from tests.factories import NOW

ROOT = Path(__file__).resolve().parents[2]
# The shared folder sits beside the repository (`../shared`); FACILITY_SHARED_DIR points elsewhere
# (a git worktree has its own parent folder).
SHARED = Path(os.environ.get("FACILITY_SHARED_DIR") or ROOT.parent / "shared")
VALIDATOR = SHARED / "tools" / "validate_opendata.py"
needs_validator = pytest.mark.skipif(
    not VALIDATOR.exists(), reason=f"the official schemas and validator are not here: {VALIDATOR} is absent "
                                   "(set FACILITY_SHARED_DIR to the shared folder)")
FILES = ("/opendata/360giving.json", "/opendata/iati-activities.xml", "/opendata/grants.csv",
         "/opendata/grants.xlsx")


def _validator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("validate_opendata", VALIDATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- building grants as rows -------------------------------------------------------------------

def _requester() -> User:
    user = db.session.scalar(sa.select(User).where(User.email == "od-requester@example.org"))
    if user is None:
        user = User(email="od-requester@example.org", name="Rita Requester", password_hash="x")
        user.add_role("fund_manager")
        db.session.add(user)
    return user


def add_grant(*, org_name: str = "SolarKiosk Labs", title: str = "Solar kiosks", country: str = "KEN",
              org_identifier: str | None = None, tranches: tuple[int, ...] = (1_000_00, 2_500_50),
              paid: int = 0, status: GrantStatus = GrantStatus.ACTIVE, sdgs: tuple[str, ...] = ("11.1", "11.b"),
              awarded_at: datetime | None = None, paid_at: datetime | None = None, dues: bool = True) -> GrantRow:
    """One grant with its city, challenge, proposal, tranches and `paid` paid disbursements (rows only)."""
    now = utcnow()
    awarded_at = awarded_at or now - timedelta(days=40)
    city_org = Organization(name=f"City of {org_name}", kind=OrgKind.CITY, country=country)
    grantee = Organization(name=org_name, kind=OrgKind.INNOVATOR, org_type=OrgType.NGO, country=country,
                           org_identifier=org_identifier)
    city = City(organization=city_org, name=f"{org_name} town", country=country, population=400_000,
                informal_settlement_share_pct=30, climate_risk=ClimateRisk.HIGH, verified_at=now)
    challenge = Challenge(city=city, title=f"Challenge: {title}", summary="s", description="d",
                          focus_area=FocusArea.INCLUSIVE_INNOVATION, sdg_targets=list(sdgs),
                          prize_pool_cents=sum(tranches), max_award_cents=sum(tranches),
                          opens_at=now - timedelta(days=90), closes_at=now - timedelta(days=50),
                          status=ChallengeStatus.FINISHED)
    proposal = Proposal(challenge=challenge, organization=grantee, title=title, summary=f"{title}, for everyone",
                        requested_cents=sum(tranches), status=ProposalStatus.AWARDED, submitted_at=now)
    grant = GrantRow(proposal=proposal, challenge=challenge, organization=grantee, amount_cents=sum(tranches),
                     status=status, awarded_at=awarded_at,
                     accepted_at=awarded_at + timedelta(days=2) if status is not GrantStatus.OFFERED else None)
    for position, cents in enumerate(tranches, start=1):
        grant.tranches.append(Tranche(position=position, title=f"Milestone {position} of {title}",
                                      amount_cents=cents,
                                      due_date=(awarded_at + timedelta(days=30 * position)).date() if dues else None))
    grant.payout_accounts.append(PayoutAccount(rail="manual", account_holder="Secret Holder Name",
                                               bank_name="Secret Bank of Nowhere", masked_account="•••• 6789",
                                               encrypted_details="gAAAA-secret-token"))
    db.session.add(grant)
    db.session.flush()
    requester = _requester()
    for tranche in grant.tranches[:paid]:
        db.session.add(Disbursement(tranche=tranche, grant=grant, amount_cents=tranche.amount_cents, rail="manual",
                                    status=DisbursementStatus.PAID, requested_by=requester,
                                    bank_reference="FT-SECRET-REF", paid_at=paid_at or awarded_at + timedelta(days=10)))
    db.session.commit()
    return grant


# --- reading the files back ----------------------------------------------------------------------

def fetch(client, path: str, **kwargs):
    """GET `path` and read the whole body: a streamed response keeps its request (and, on SQLite, the
    database lock) until it has been read."""
    response = client.get(path, **kwargs)
    response.get_data()
    return response


def get_all(client) -> dict[str, bytes]:
    out = {}
    for path in FILES:
        response = fetch(client, path)
        assert response.status_code == 200, path
        out[path] = response.get_data()
    return out


def facts_360(body: bytes) -> dict[int, dict]:
    out = {}
    for g in json.loads(body)["grants"]:
        number = int(g["id"].rsplit("-", 1)[1])
        out[number] = {"amount": Decimal(str(g["amountAwarded"])), "disbursed": Decimal(str(g["amountDisbursed"])),
                       "award_date": g["awardDate"],
                       "country": g["beneficiaryLocation"][0].get("countryCode", ""),
                       "payments": sorted((t["transactionDate"], Decimal(str(t["value"])))
                                          for t in g["disbursementTransaction"]),
                       "recipient": g["recipientOrganization"][0]["id"]}
    return out


def facts_iati(body: bytes) -> dict[int, dict]:
    out = {}
    for act in etree.fromstring(body).iter("iati-activity"):
        number = int(act.findtext("iati-identifier").rsplit("-", 1)[1])
        transactions = [(t.find("transaction-type").get("code"), t.find("transaction-date").get("iso-date"),
                         Decimal(t.findtext("value"))) for t in act.iter("transaction")]
        country = act.find("recipient-country")
        payments = sorted((day, value) for code, day, value in transactions if code == "3")
        out[number] = {"amount": sum(v for code, _d, v in transactions if code == "2"),
                       "disbursed": sum((v for _d, v in payments), Decimal(0)),
                       "award_date": next(d for code, d, _v in transactions if code == "2"),
                       "country": country.get("code") if country is not None else "",
                       "payments": payments,
                       "recipient": act.find("participating-org[@role='4']").get("ref")}
    return out


def csv_rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def facts_csv(body: bytes) -> dict[int, dict]:
    return {int(r["number"]): {"amount": Decimal(r["amount_awarded"]), "disbursed": Decimal(r["amount_disbursed"]),
                               "award_date": r["award_date"], "country": r["country"],
                               "tranches_paid": int(r["tranches_paid"]), "recipient": r["recipient_org_id"]}
            for r in csv_rows(body)}


def validate(tmp_path: Path, files: dict[str, bytes]) -> list[str]:
    validator = _validator()
    (tmp_path / "g.json").write_bytes(files["/opendata/360giving.json"])
    (tmp_path / "a.xml").write_bytes(files["/opendata/iati-activities.xml"])
    return validator.check_360giving(tmp_path / "g.json") + validator.check_iati(tmp_path / "a.xml")


# --- the files ---------------------------------------------------------------------------------------

@needs_validator
def test_every_export_passes_the_official_validators(client, clock, tmp_path):
    add_grant(org_identifier="GB-CHC-1234567", paid=1)
    add_grant(org_name="WaterWatch", country="BGD", paid=2, status=GrantStatus.COMPLETED)
    add_grant(org_name="Not yet accepted", country="FJI", status=GrantStatus.OFFERED, dues=False)
    add_grant(org_name="Stopped", country="FRA", status=GrantStatus.CANCELLED, paid=1)
    files = get_all(client)
    assert validate(tmp_path, files) == []
    assert len(json.loads(files["/opendata/360giving.json"])["grants"]) == 4


def test_anyone_may_read_the_files_and_the_page(client, clock):
    add_grant()
    page = fetch(client, "/opendata/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for path in FILES:
        assert f'href="{path}"' in html
    assert "CC BY 4.0" in html and "XI-IATI-UIF" in html and "360G-UIF" in html
    for path in FILES:
        assert fetch(client, path).status_code == 200  # anonymous: no redirect to the sign-in page


def test_360giving_record_has_the_facts(client, clock):
    grant = add_grant(org_identifier="GB-CHC-1234567", tranches=(1_000_00, 2_500_50), paid=1)
    data = json.loads(fetch(client, "/opendata/360giving.json").get_data())
    (g,) = data["grants"]
    assert g["id"] == f"360G-UIF-{grant.id}"
    assert (g["amountAwarded"], g["amountDisbursed"], g["currency"]) == (3500.5, 1000, "USD")
    assert g["fundingOrganization"] == [{"id": "XI-IATI-UIF", "name": "Urban Innovation Facility"}]
    assert g["recipientOrganization"][0]["id"] == "GB-CHC-1234567"
    assert g["beneficiaryLocation"][0]["countryCode"] == "KE"
    assert g["grantProgramme"][0]["title"] == "Challenge: Solar kiosks"
    assert {(c["vocabulary"], c["code"]) for c in g["classifications"]} == {
        ("UN-SDG-Target", "11.1"), ("UN-SDG-Target", "11.b"), ("UIF-FocusArea", "inclusive_innovation")}
    awarded = (NOW - timedelta(days=40)).date()
    assert g["awardDate"] == awarded.isoformat()
    assert g["plannedDates"] == [{"startDate": awarded.isoformat(),
                                  "endDate": (awarded + timedelta(days=60)).isoformat()}]
    assert data["license"] == "https://creativecommons.org/licenses/by/4.0/"


def test_a_grantee_without_an_org_id_gets_one_under_the_prefix(client, clock):
    grant = add_grant()
    (g,) = json.loads(fetch(client, "/opendata/360giving.json").get_data())["grants"]
    assert g["recipientOrganization"][0]["id"] == f"360G-UIF-ORG-{grant.organization_id}"


def test_the_identifiers_come_from_the_configuration(app, client, clock):
    grant = add_grant()
    app.config.update(OPENDATA_ORG_ID="XM-DAC-47000", OPENDATA_PREFIX="abc/def", OPENDATA_ORG_NAME="Trust Fund")
    try:
        (g,) = json.loads(fetch(client, "/opendata/360giving.json").get_data())["grants"]
        xml = etree.fromstring(fetch(client, "/opendata/iati-activities.xml").get_data())
    finally:
        for key in ("OPENDATA_ORG_ID", "OPENDATA_PREFIX", "OPENDATA_ORG_NAME"):
            app.config.pop(key)
    assert g["id"] == f"360G-abcdef-{grant.id}"  # no slash in an id
    assert g["fundingOrganization"][0] == {"id": "XM-DAC-47000", "name": "Trust Fund"}
    assert xml.findtext("iati-activity/iati-identifier") == f"XM-DAC-47000-{grant.id}"
    assert xml.find("iati-activity/reporting-org").get("ref") == "XM-DAC-47000"


def test_iati_activity_has_status_dates_sector_tags_and_transactions(client, clock):
    add_grant(tranches=(1_000_00, 2_000_00, 3_000_00), paid=2)
    act = etree.fromstring(fetch(client, "/opendata/iati-activities.xml").get_data()).find("iati-activity")
    assert act.find("activity-status").get("code") == "2"
    assert {d.get("type") for d in act.iter("activity-date")} == {"1", "2", "3"}
    assert act.find("recipient-country").get("code") == "KE"
    assert [(s.get("vocabulary"), s.get("code")) for s in act.iter("sector")] == [("1", "43030")]
    assert [(t.get("vocabulary"), t.get("code")) for t in act.iter("tag")] == [("3", "11.1"), ("3", "11.b")]
    kinds = [(t.find("transaction-type").get("code"), t.findtext("value")) for t in act.iter("transaction")]
    assert kinds == [("2", "6000.00"), ("3", "1000.00"), ("3", "2000.00")]
    roles = {p.get("role") for p in act.iter("participating-org")}
    assert roles == {"1", "4"}


@pytest.mark.parametrize("status,code", [(GrantStatus.OFFERED, "1"), (GrantStatus.COMPLETED, "3"),
                                         (GrantStatus.CANCELLED, "5")])
def test_iati_status_follows_the_grant(client, clock, status, code):
    add_grant(status=status, paid=2 if status is GrantStatus.COMPLETED else 0)
    act = etree.fromstring(fetch(client, "/opendata/iati-activities.xml").get_data()).find("iati-activity")
    assert act.find("activity-status").get("code") == code


def test_the_three_formats_say_the_same(client, clock):
    add_grant(org_identifier="GB-CHC-1234567", paid=1)
    add_grant(org_name="WaterWatch", country="BGD", tranches=(333, 667, 1_000_000_01), paid=3,
              status=GrantStatus.COMPLETED)
    add_grant(org_name="Nowhere", country="ZZZ", paid=0)  # no alpha-2 known: no country anywhere
    files = get_all(client)
    three, iati, table = (facts_360(files[FILES[0]]), facts_iati(files[FILES[1]]), facts_csv(files[FILES[2]]))
    assert set(three) == set(iati) == set(table) and len(three) == 3
    for number in three:
        for key in ("amount", "disbursed", "award_date", "country", "recipient"):
            assert three[number][key] == iati[number][key] == table[number][key], (number, key)
        assert three[number]["payments"] == iati[number]["payments"]
        assert table[number]["tranches_paid"] == len(three[number]["payments"])


def test_no_transaction_is_dated_in_the_future(client, clock):
    grant = add_grant(paid=2, paid_at=NOW + timedelta(days=1))
    files = get_all(client)
    (g,) = json.loads(files[FILES[0]])["grants"]
    assert g["disbursementTransaction"] == [] and g["amountDisbursed"] == 0
    today = NOW.date().isoformat()
    for act in etree.fromstring(files[FILES[1]]).iter("iati-activity"):
        assert [t.find("transaction-type").get("code") for t in act.iter("transaction")] == ["2"]
        assert all(d.get("iso-date") <= today for d in act.iter("activity-date") if d.get("type") in ("2", "4"))
    (row,) = csv_rows(files[FILES[2]])
    assert (row["number"], row["amount_disbursed"], row["tranches_paid"]) == (str(grant.id), "0.00", "0")


def test_nothing_private_leaks(client, clock, make_user):
    add_grant(paid=1)
    draft = Proposal(challenge=db.session.scalar(sa.select(Challenge)), organization=db.session.scalar(
        sa.select(Organization).where(Organization.kind == OrgKind.INNOVATOR)), title="Draft idea nobody saw",
        summary="draft summary", status=ProposalStatus.DRAFT)
    db.session.add(draft)
    make_user("innovator", email="person@grantee.example", name="Priya Person")
    db.session.commit()
    for path, body in get_all(client).items():
        text = body.decode("utf-8", "replace") if not path.endswith(".xlsx") else _xlsx_text(body)
        for secret in ("@", "Secret Holder", "Secret Bank", "6789", "gAAAA", "FT-SECRET", "Draft idea",
                       "draft summary", "Priya Person", "Rita Requester"):
            assert secret not in text, (path, secret)


def _xlsx_text(body: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


def test_csv_and_xlsx_cells_are_numbers_and_dates(client, clock):
    grant = add_grant(tranches=(1_000_00, 2_500_55), paid=1)
    (row,) = csv_rows(fetch(client, "/opendata/grants.csv").get_data())
    assert (row["amount_awarded"], row["amount_disbursed"], row["tranches"]) == ("3500.55", "1000.00", "2")
    book = openpyxl.load_workbook(io.BytesIO(fetch(client, "/opendata/grants.xlsx").get_data()))
    sheet = book.active
    headers = [c.value for c in sheet[1]]
    values = dict(zip(headers, [c.value for c in sheet[2]], strict=True))
    assert values["number"] == grant.id
    assert values["amount_awarded"] == pytest.approx(3500.55) and isinstance(values["amount_awarded"], float)
    assert isinstance(values["tranches"], int | float) and values["tranches"] == 2
    assert isinstance(values["award_date"], datetime)
    assert values["id"] == f"360G-UIF-{grant.id}"


# --- caching -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", FILES)
def test_etag_and_last_modified_answer_304_until_something_changes(client, clock, path):
    grant = add_grant()
    first = fetch(client, path)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag and modified and first.headers["Cache-Control"] == "public, no-cache"
    again = fetch(client, path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == etag
    assert fetch(client, path, headers={"If-Modified-Since": modified}).status_code == 304
    assert fetch(client, path, headers={"If-None-Match": '"something-else"'}).status_code == 200
    clock.shift(seconds=5)
    grant.organization.name = "Renamed Labs"
    db.session.commit()
    changed = fetch(client, path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert fetch(client, path, headers={"If-Modified-Since": modified}).status_code == 200


def test_a_new_payment_changes_the_etag(client, clock):
    grant = add_grant(paid=0)
    etag = fetch(client, "/opendata/360giving.json").headers["ETag"]
    db.session.add(Disbursement(tranche=grant.tranches[0], grant=grant, amount_cents=grant.tranches[0].amount_cents,
                                rail="manual", status=DisbursementStatus.PAID, requested_by=_requester(),
                                paid_at=utcnow()))
    grant.updated_at = utcnow() + timedelta(seconds=1)  # the payment service touches the grant's tranche
    db.session.commit()
    assert fetch(client, "/opendata/360giving.json", headers={"If-None-Match": etag}).status_code == 200


@pytest.mark.parametrize("header", [{"If-Modified-Since": "yesterday"}, {"If-None-Match": "\x00\"<&"},
                                    {"If-Modified-Since": "Mon, 99 Foo 9999 99:99:99 GMT"}])
def test_garbage_validators_are_ignored(client, clock, header):
    add_grant()
    assert fetch(client, "/opendata/grants.csv?x=%3Cscript%3E&page=-1", headers=header).status_code == 200


def test_batches_follow_each_other_without_gaps_or_repeats(app, clock):
    for n in range(7):
        add_grant(org_name=f"Org {n}", paid=n % 3)
    whole = list(source.published_grants(db.engine))
    assert [g.id for g in whole] == sorted(g.id for g in whole) and len(whole) == 7
    for batch in (1, 2, 3, 7):
        assert list(source.published_grants(db.engine, batch=batch)) == whole


def test_the_query_count_does_not_grow_with_the_grants(client, clock, app):
    add_grant()
    few = _count_queries(app, client, "/opendata/360giving.json")
    for n in range(8):
        add_grant(org_name=f"Org {n}", paid=1)
    assert _count_queries(app, client, "/opendata/360giving.json") == few


def _count_queries(app, client, path) -> int:
    seen: list[str] = []

    def record(*_args) -> None:
        seen.append("q")
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert fetch(client, path).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return len(seen)


# --- Hypothesis: odd names, every script, no tranche paid, all paid, cancelled --------------------------

SPECIALS = st.sampled_from(["O'Brien & Sons <Ltd>", '"Quoted" Co.', "مؤسسة المدينة", "עמותת העיר", "城市创新",
                            "Город будущего", "नगर नवाचार", "🏙️ Emoji Labs 🚀", "=HYPERLINK(\"x\")", "-1+2",
                            "Ünïcödé ŧëxt", "ተስፋ ከተማ", "\u202eRTL override"])
NAMES = st.one_of(SPECIALS, st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40))
COUNTRIES = st.sampled_from(["KEN", "BGD", "FJI", "PSE", "BRA", "FRA", "IND", "ZZZ"])


@st.composite
def grant_specs(draw):
    tranches = tuple(draw(st.lists(st.integers(1, 10**10), min_size=1, max_size=5)))
    status = draw(st.sampled_from(list(GrantStatus)))
    paid = len(tranches) if status is GrantStatus.COMPLETED else draw(st.integers(0, len(tranches)))
    if status is GrantStatus.OFFERED:
        paid = 0
    return dict(org_name=draw(NAMES), title=draw(NAMES), country=draw(COUNTRIES), tranches=tranches, paid=paid,
                status=status, sdgs=tuple(draw(st.lists(st.sampled_from(["11.1", "11.2", "11.a", "1.4", "17.17"]),
                                                         unique=True, max_size=3))),
                org_identifier=draw(st.one_of(st.none(), st.sampled_from(["GB-CHC-1234567", "KE-RCO-PVT.1_2"]))),
                dues=draw(st.booleans()))


@needs_validator
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(specs=st.lists(grant_specs(), min_size=1, max_size=3))
@example(specs=[  # always tried: none paid, all paid, cancelled with a payment; RTL, emoji, quotes and <&
    dict(org_name="مؤسسة المدينة", title='"Quoted" <&> 🚀', country="PSE", tranches=(1, 2), paid=0,
         status=GrantStatus.ACTIVE, sdgs=(), org_identifier=None, dues=False),
    dict(org_name="城市创新 & Co", title="עמותת העיר", country="BGD", tranches=(10**10, 5), paid=2,
         status=GrantStatus.COMPLETED, sdgs=("11.a",), org_identifier="GB-CHC-1234567", dues=True),
    dict(org_name="=cmd|' /C calc'!A0", title="Cancelled", country="ZZZ", tranches=(100, 200), paid=1,
         status=GrantStatus.CANCELLED, sdgs=("1.4", "17.17"), org_identifier=None, dues=True)])
def test_generated_grants_pass_the_validators_and_agree(client, clock, tmp_path, specs):
    for spec in specs:
        add_grant(**spec)
    files = get_all(client)
    assert validate(tmp_path, files) == []
    three, iati, table = (facts_360(files[FILES[0]]), facts_iati(files[FILES[1]]), facts_csv(files[FILES[2]]))
    assert set(three) == set(iati) == set(table)
    for number in three:
        for key in ("amount", "disbursed", "award_date", "country", "recipient"):
            assert three[number][key] == iati[number][key] == table[number][key]
    names = {g["recipientOrganization"][0]["name"] for g in json.loads(files[FILES[0]])["grants"]}
    assert {spec["org_name"] for spec in specs} <= names


@given(st.one_of(st.integers(1, 10**15 - 1), st.sampled_from([1, 10, 99, 10**15 - 1, 123_456_789_012_345])))
def test_dollar_numbers_are_exact(cents):  # below USD 10 trillion (10**15 cents; see threesixty)
    text = json.dumps(dollars_number(cents))
    assert Decimal(text) == Decimal(cents) / 100


# --- the demo, built by the real services ----------------------------------------------------------------

@needs_validator
def test_demo_data_is_published_valid_and_private(client, tmp_path):
    from facility.demo import seed

    seed(echo=lambda _msg: None)
    files = get_all(client)
    assert validate(tmp_path, files) == []
    three = facts_360(files[FILES[0]])
    assert three and any(g["payments"] for g in three.values())  # the demo pays tranches
    assert "KE-RCO-PVT-DEMO1234" in {g["recipient"] for g in three.values()}
    emails = db.session.scalars(sa.select(User.email)).all()
    ibans = [a.masked_account for a in db.session.scalars(sa.select(PayoutAccount)) if a.masked_account]
    # The demo reuses an idea's title across challenges: a draft's title may also be an awarded one's.
    awarded = set(db.session.scalars(sa.select(Proposal.title).join(GrantRow, GrantRow.proposal_id == Proposal.id)))
    drafts = [t for t in db.session.scalars(sa.select(Proposal.title).where(Proposal.status == ProposalStatus.DRAFT))
              if t not in awarded]
    text = b"".join(files[p] for p in FILES[:3]).decode() + _xlsx_text(files[FILES[3]])
    organisations = set(db.session.scalars(sa.select(Organization.name)))
    people = [n for n in db.session.scalars(sa.select(User.name)) if n not in organisations]  # reviewers too
    for secret in [*emails, *ibans, *drafts, *people]:
        assert secret not in text, secret
    today = datetime.now(UTC).date().isoformat()
    for act in etree.fromstring(files[FILES[1]]).iter("iati-activity"):
        assert all(t.find("transaction-date").get("iso-date") <= today for t in act.iter("transaction"))


def test_an_unread_download_holds_no_context_and_no_lock(client, clock):
    add_grant()
    for path in FILES:
        client.get(path)  # the body is never read, as when a client goes away
    add_grant(org_name="Written afterwards")  # a write still gets the database (SQLite: its one lock)
    assert len(json.loads(fetch(client, FILES[0]).get_data())["grants"]) == 2
