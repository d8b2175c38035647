"""`/portfolio/exports/<table>.<csv|xlsx>`: typed cells (numbers, dates), formulas guarded in text only,
filters applied, no drafts and no bank details, rows streamed."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import openpyxl
import pytest
import sqlalchemy as sa

from facility.accounts.models import User
from facility.core.models import utcnow
from facility.extensions import db
from facility.grants import contributions, payouts
from facility.ledger.balances import facility_totals
from facility.portfolio import spreadsheets
from facility.portfolio.filters import PortfolioFilter
from facility.proposals.models import ProposalStatus
from tests import factories
from tests.factories import PASSWORD
from tests.factories.grants import MANUAL_ACCOUNT
from tests.portfolio import staff_scene
from tests.portfolio.staff_scene import FIRST, SECOND, Scene

TABLES = ("grants", "tranches", "payments", "contributions", "proposals")


@pytest.fixture
def scene(app, clock):
    scene = Scene(*staff_scene.managers())
    staff_scene.add_grant(scene, "kampala")  # Uganda, first tranche paid
    staff_scene.add_grant(scene, "nairobi", country="KEN", population=4_500_000, pay="requested")
    grant = scene.grants[0]
    grant.organization.name = "=HYPERLINK(\"http://evil\")"
    factories.proposals.make_proposal(scene.challenges[0], via="models", title="Secret draft",
                                      status=ProposalStatus.DRAFT)
    donor_org = factories.accounts.make_org(name="-Harbour Foundation", kind="donor", country="NOR")
    donor = factories.accounts.make_user("donor", organization=donor_org)
    wire = contributions.pledge_contribution(actor=donor, amount_cents=123_456, method="wire")
    contributions.confirm_wire_contribution(contribution=wire, actor=scene.manager, received_cents=123_456,
                                            received_on=utcnow().date() - timedelta(days=2),
                                            bank_reference="SECRET-BANK-REF-1")
    nairobi = scene.grants[1]
    grantee = db.session.scalars(sa.select(User).where(User.organization_id == nairobi.organization_id)).first()
    payouts.set_payout_account(grant=nairobi, actor=grantee, rail="manual", confirm_password=PASSWORD, **MANUAL_ACCOUNT)
    db.session.commit()
    return scene


def _xlsx(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)], sheet


def _csv(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


@pytest.fixture
def manager_client(client, login, scene):
    login(client, scene.manager)
    return client


def test_xlsx_cells_are_numbers_and_dates(manager_client, scene):
    grants, sheet = _xlsx(manager_client, "/portfolio/exports/grants.xlsx")
    assert len(grants) == 2
    first = grants[0]
    amount_column = [c.value for c in sheet[1]].index("amount_usd") + 1
    assert first["amount_usd"] == (FIRST + SECOND) / 100 and sheet.cell(2, amount_column).data_type == "n"
    assert sheet.cell(2, amount_column).number_format == "#,##0.00"
    assert first["committed_unpaid_usd"] == SECOND / 100
    assert isinstance(first["grant_id"], int) and first["grant_id"] == scene.grants[0].id
    awarded_column = [c.value for c in sheet[1]].index("awarded_at") + 1
    assert isinstance(first["awarded_at"], datetime) and sheet.cell(2, awarded_column).is_date
    assert first["grantee"] == "'=HYPERLINK(\"http://evil\")"  # text guarded
    assert sum(g["committed_unpaid_usd"] for g in grants) * 100 == facility_totals()["committed"]
    tranches, sheet = _xlsx(manager_client, "/portfolio/exports/tranches.xlsx")
    assert [t["amount_usd"] for t in tranches] == [FIRST / 100, SECOND / 100] * 2
    due_column = [c.value for c in sheet[1]].index("due_date") + 1
    assert sheet.cell(2, due_column).is_date and isinstance(tranches[0]["due_date"], datetime)
    assert tranches[0]["status"] == "paid" and tranches[2]["status"] == "disbursing"


def test_numbers_stay_numbers_even_when_negative_looking_text_is_guarded(manager_client, scene):
    rows, _ = _xlsx(manager_client, "/portfolio/exports/contributions.xlsx")
    assert rows == [{"contribution_id": rows[0]["contribution_id"], "donor_organization": "'-Harbour Foundation",
                     "method": "wire", "status": "received", "pledged_usd": 1234.56, "received_usd": 1234.56,
                     "received_on": rows[0]["received_on"], "pledged_at": rows[0]["pledged_at"]}]
    assert isinstance(rows[0]["received_on"], datetime)
    lines = _csv(manager_client, "/portfolio/exports/contributions.csv")
    assert lines[0]["pledged_usd"] == "1234.56" and lines[0]["donor_organization"] == "'-Harbour Foundation"


@pytest.mark.parametrize("table", TABLES)
def test_no_bank_details_in_any_export(manager_client, scene, table):
    for fmt in ("csv", "xlsx"):
        body = manager_client.get(f"/portfolio/exports/{table}.{fmt}").get_data()
        text = body.decode("utf-8", "replace") if fmt == "csv" else _xlsx_text(body)
        for secret in ("SECRET-BANK-REF-1", "acct_1Grantee01", MANUAL_ACCOUNT["iban"], MANUAL_ACCOUNT["swift"],
                       MANUAL_ACCOUNT["bank_name"], "6543"):
            assert secret not in text, (table, fmt, secret)
        headers = {h.lower() for h in text.splitlines()[0].split(",")} if fmt == "csv" else set()
        assert not {"bank_reference", "payment_instruction", "iban", "account"} & headers


def _xlsx_text(body: bytes) -> str:
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    return "\n".join(",".join(str(c.value) for c in row) for row in sheet.iter_rows())


def test_only_submitted_proposals_are_exported(manager_client, scene):
    titles = [row["title"] for row in _csv(manager_client, "/portfolio/exports/proposals.csv")]
    assert titles == ["Proposal kampala", "Proposal nairobi"] and "Secret draft" not in titles


def test_filters_apply_to_exports_and_bad_values_are_ignored(manager_client, scene):
    kenya = _csv(manager_client, "/portfolio/exports/payments.csv?country=KEN")
    assert [row["status"] for row in kenya] == ["requested"] and kenya[0]["country"] == "KEN"
    assert kenya[0]["amount_usd"] == f"{FIRST / 100:.2f}"
    assert len(_csv(manager_client, "/portfolio/exports/payments.csv?country_group=LDC")) == 1  # Uganda's
    assert len(_csv(manager_client, "/portfolio/exports/payments.csv?country=XXX&size_class=huge")) == 2
    assert len(_csv(manager_client, "/portfolio/exports/tranches.csv?region=Europe")) == 0
    # Contributions belong to no city: the filters leave them whole.
    assert len(_csv(manager_client, "/portfolio/exports/contributions.csv?region=Europe")) == 1


def test_unknown_tables_and_formats_are_not_found(manager_client, scene):
    for path in ("/portfolio/exports/users.csv", "/portfolio/exports/grants.pdf", "/portfolio/exports/grants.CSV"):
        assert manager_client.get(path).status_code == 404


def test_auditors_export_too(client, login, scene):
    login(client, factories.accounts.make_user("auditor"))
    assert len(_csv(client, "/portfolio/exports/grants.csv")) == 2


def test_rows_are_streamed_with_a_fixed_number_of_queries(app, scene, count_queries):
    flt = PortfolioFilter()
    for table in spreadsheets.TABLES.values():
        with count_queries() as few:
            small = list(spreadsheets.rows(table, flt))
        assert few() <= 2, table.key
        assert all(len(row) == len(table.columns) for row in small), table.key
    staff_scene.build(3, scene=scene)
    with count_queries() as many:
        rows = list(spreadsheets.rows(spreadsheets.TABLES["tranches"], flt))
    assert len(rows) == 10 and many() <= 2
