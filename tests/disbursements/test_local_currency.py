"""Payouts in local currency: parsing, derivation and rounding (`disbursements.local_currency`), the manual
rail's confirmation with a local amount on the page, and what the pages show."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
import sqlalchemy as sa

from facility.core.errors import ValidationFailed
from facility.disbursements import local_currency as lc
from facility.disbursements import requests
from facility.disbursements.models import Disbursement, DisbursementStatus, ExchangeRateSource
from facility.extensions import db
from facility.ledger.models import LedgerEntry
from facility.ledger.verify import verify_ledger
from tests.conftest import get_csrf

S = DisbursementStatus


def _fresh(disbursement_id: int) -> Disbursement:
    db.session.expire_all()
    return db.session.get(Disbursement, disbursement_id)


def _html(response) -> str:
    return response.get_data(as_text=True)


# --- the pure rules ---------------------------------------------------------------------------

def test_minor_units_follow_babel(app):
    assert [lc.minor_digits(c) for c in ("KES", "UGX", "BHD", "XOF", "EUR")] == [2, 0, 3, 0, 2]
    assert lc.to_major(129_250_000, "KES") == Decimal("1292500.00")
    assert lc.to_major(5_000_000, "UGX") == Decimal("5000000")
    assert lc.to_major(3_771, "BHD") == Decimal("3.771")


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("1,292,500.50", "KES", 129_250_050), ("1292500", "KES", 129_250_000), ("KES 12.5", "KES", 1_250),
    ("kes 12.5", "KES", 1_250), ("37,000,000", "UGX", 37_000_000), ("3.771", "BHD", 3_771), ("", "KES", None),
])
def test_local_amounts_are_read_exactly(app, text, currency, minor):
    assert lc.parse_local_amount(text, currency) == minor


@pytest.mark.parametrize(("text", "currency", "message"), [
    ("-5", "KES", "above zero"), ("0", "KES", "above zero"), ("0.00", "KES", "above zero"),
    ("12.345", "KES", "at most 2 decimals"), ("10.5", "UGX", "no decimals"),
    ("١٢٣", "KES", "digits 0-9"), ("１２３", "KES", "digits 0-9"), ("1e3", "KES", "digits 0-9"),
    ("1,00", "KES", "digits 0-9"), ("NaN", "KES", "digits 0-9"), ("12 345", "KES", "digits 0-9"),
    ("9" * 20, "KES", "larger"),
])
def test_unreadable_local_amounts_are_refused(app, text, currency, message):
    with pytest.raises(ValueError, match=message):
        lc.parse_local_amount(text, currency)


@pytest.mark.parametrize(("text", "message"), [
    ("-1", "above zero"), ("0", "above zero"), ("0.000000001", "at most 8 decimals"), ("1,000", "digits 0-9"),
    ("١٢٩.٢٥", "digits 0-9"), ("1e2", "digits 0-9"), ("Infinity", "digits 0-9"), ("10000000000", "below"),
])
def test_unreadable_rates_are_refused(app, text, message):
    with pytest.raises(ValueError, match=message):
        lc.parse_rate(text)


def test_currencies_are_iso_4217_money(app):
    assert lc.parse_currency(" kes ") == "KES" and lc.parse_currency("XOF") == "XOF"
    assert lc.parse_currency("") is None and lc.parse_currency("USD") == "USD"
    for bad in ("KESH", "ZZZ", "XAU", "XXX", "K3S", "ＫＥＳ", "kés"):
        with pytest.raises(ValueError, match="three-letter code"):
            lc.parse_currency(bad)
    codes = lc.currency_codes()
    assert "KES" in codes and "XOF" in codes and "USD" not in codes and "XAU" not in codes


def test_the_amount_is_derived_from_the_rate_rounding_half_even(app):
    # USD 10,000.00 at 129.25 is exactly KES 1,292,500.00.
    paid = lc.manual_payment(usd_cents=1_000_000, currency="KES", amount=None, rate="129.25")
    assert paid == lc.LocalPayment("KES", 129_250_000, Decimal("129.25"), "manual")
    # USD 0.01 at 0.5 is half a minor unit: half to even gives 0 -> refused; at 1.5 it is 1.5 -> 2; at 2.5 -> 2.
    assert lc.amount_at(1, Decimal("1.5"), "KES") == 2
    assert lc.amount_at(1, Decimal("2.5"), "KES") == 2
    assert lc.amount_at(1, Decimal("3.5"), "KES") == 4
    with pytest.raises(ValidationFailed) as refused:
        lc.manual_payment(usd_cents=1, currency="KES", amount=None, rate="0.5")
    assert list(refused.value.errors) == ["exchange_rate"]
    # Zero-decimal currencies round to whole units: USD 100.05 at 3,700.5 UGX = 370,235.0025 -> 370,235.
    assert lc.manual_payment(usd_cents=10_005, currency="UGX", amount=None,
                             rate="3700.5").amount_minor == 370_235


def test_the_rate_is_derived_from_the_amount_to_eight_decimals(app):
    paid = lc.manual_payment(usd_cents=1_000_000, currency="KES", amount="1,292,512.34", rate=None)
    assert paid == lc.LocalPayment("KES", 129_251_234, Decimal("129.25123400"), "manual")
    # 1,000 UGX for USD 3.00: 333.333333333... -> 333.33333333 (eight decimals, half even).
    assert lc.manual_payment(usd_cents=300, currency="UGX", amount="1000", rate=None).rate == Decimal("333.33333333")
    # Half even on the eighth decimal: 1 / 8 = 0.125 exactly stays; 0.000000005 rounds to even.
    assert lc.rate_of(800, 1, "UGX") == Decimal("0.12500000")
    assert lc.rate_of(20_000_000_000, 1, "UGX") == Decimal("0.00000000")  # 5e-9 -> 0 (even)
    assert lc.rate_of(20_000_000_000 // 3, 1, "UGX") == Decimal("0.00000002")  # 1.5e-8 -> 2e-8


def test_amount_and_rate_given_together_must_agree(app):
    # The rate 129.25 stands for 129.245..129.255: on USD 10,000 that is KES 1,292,450 .. 1,292,550.
    kept = lc.manual_payment(usd_cents=1_000_000, currency="KES", amount="1,292,540.00", rate="129.25")
    assert (kept.amount_minor, kept.rate) == (129_254_000, Decimal("129.25"))
    with pytest.raises(ValidationFailed) as refused:
        lc.manual_payment(usd_cents=1_000_000, currency="KES", amount="1,292,600.00", rate="129.25")
    assert list(refused.value.errors) == ["exchange_rate"]
    assert "1,292,500.00" in refused.value.errors["exchange_rate"][0]


@pytest.mark.parametrize(("currency", "amount", "rate", "fields"), [
    ("", "1000", None, ["local_currency"]),
    (None, None, "129.25", ["local_currency"]),
    ("USD", "1000", None, ["local_currency"]),
    ("KES", None, None, ["local_amount"]),
    ("KES", "  ", "", ["local_amount"]),
    ("BTC", "1", None, ["local_currency"]),
    ("KES", "-1", "-3", ["local_amount", "exchange_rate"]),
])
def test_incomplete_or_wrong_fields_are_named(app, currency, amount, rate, fields):
    with pytest.raises(ValidationFailed) as refused:
        lc.manual_payment(usd_cents=1_000_000, currency=currency, amount=amount, rate=rate)
    assert sorted(refused.value.errors) == sorted(fields)


def test_us_dollars_need_nothing(app):
    assert lc.manual_payment(usd_cents=1_000_000, currency=None, amount=None, rate=None) is None
    assert lc.manual_payment(usd_cents=1_000_000, currency="usd", amount="", rate=" ") is None


def test_stripe_figures(app):
    assert lc.stripe_payment(usd_cents=1_000_000, currency="kes", amount_minor=129_250_000,
                             rate=Decimal("129.25")) == lc.LocalPayment("KES", 129_250_000, Decimal("129.25"), "stripe")
    derived = lc.stripe_payment(usd_cents=1_000_000, currency="kes", amount_minor=129_250_000, rate=None)
    assert derived.rate == Decimal("129.25")
    assert lc.stripe_payment(usd_cents=1_000_000, currency="usd", amount_minor=1_000_000, rate=None) is None
    assert lc.stripe_payment(usd_cents=1_000_000, currency="kes", amount_minor=0, rate=None) is None


# --- the manual rail, on the page --------------------------------------------------------------

@pytest.fixture
def awaiting(payable, run_jobs):
    """A manual-rail disbursement of USD 10,000.00 waiting for its bank reference."""
    grant, requester, approver, grantee = payable(rail="manual")
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    assert _fresh(d.id).status is S.AWAITING_CONFIRMATION
    return d.id, grant, requester, approver, grantee


def _entries() -> int:
    return db.session.scalar(sa.select(sa.func.count(LedgerEntry.id)))


def test_confirming_on_the_page_with_a_local_amount(awaiting, signed_in, make_user):
    d_id, grant, requester, approver, grantee = awaiting
    ana = signed_in(make_user("fund_manager"))
    page = _html(ana.get(f"/disbursements/{d_id}"))
    assert 'name="confirm-local_currency"' in page and 'name="confirm-local_amount"' in page
    assert 'name="confirm-exchange_rate"' in page and "Kenyan Shilling (KES)" in page
    assert '<label for="confirm-exchange_rate">' in page
    token = get_csrf(ana, f"/disbursements/{d_id}")
    entries = _entries()

    def post(**fields):
        data = {"confirm-bank_reference": "FT2611230042", "confirm-csrf_token": token}
        data.update({f"confirm-{name}": value for name, value in fields.items()})
        return ana.post(f"/disbursements/{d_id}/confirm", data=data)

    for fields, message in (
        ({"local_currency": "KES", "local_amount": "-5"}, "Give an amount above zero."),
        ({"local_currency": "KES", "local_amount": "١٢٣"}, "digits 0-9"),
        ({"local_currency": "ZZZ", "local_amount": "100"}, "three-letter code"),
        ({"local_currency": "KES"}, "Give the amount received in KES, or the exchange rate"),
        ({"local_amount": "100"}, "Say which currency the grantee received."),
        ({"local_currency": "KES", "local_amount": "1,292,600", "exchange_rate": "129.25"}, "do not match"),
        ({"local_currency": "KES", "exchange_rate": "1e2"}, "digits 0-9"),
    ):
        response = post(**fields)
        assert response.status_code == 422, fields
        assert message in _html(response), fields
        d = _fresh(d_id)
        assert (d.status, d.bank_reference, d.local_currency, d.exchange_rate) == (
            S.AWAITING_CONFIRMATION, None, None, None)
        assert _entries() == entries

    response = post(local_currency="KES", exchange_rate="129.25")
    assert response.status_code == 302
    d = _fresh(d_id)
    assert (d.status, d.amount_cents, d.local_currency, d.local_amount_minor, d.exchange_rate,
            d.exchange_rate_source) == (S.PAID, 1_000_000, "KES", 129_250_000, Decimal("129.25"),
                                        ExchangeRateSource.MANUAL)
    assert verify_ledger() == []  # the ledger booked USD 10,000.00, nothing in shillings
    page = _html(ana.get(f"/disbursements/{d_id}"))
    assert "USD 10,000.00" in page and "KES" in page and "1,292,500.00" in page
    assert "1 USD = 129.25 KES" in page and "Given by the fund manager who confirmed the payment" in page
    for viewer in (ana, signed_in(grantee)):  # the grant page's payments, also as the grantee sees it
        grant_page = _html(viewer.get(f"/grants/{grant.id}"))
        assert "Received by the grantee as" in grant_page and "1,292,500.00" in grant_page
        assert "1 USD = 129.25 KES" in grant_page
    assert "1,292,500.00" in _html(signed_in(grantee).get(f"/disbursements/{d_id}"))


def test_the_next_payment_of_the_grant_is_offered_the_same_currency(payable, run_jobs, signed_in, make_user):
    grant, requester, approver, grantee = payable(rail="manual", accept=(1, 2))
    ids = []
    for tranche in grant.tranches:
        d = requests.request_disbursement(tranche=tranche, actor=requester)
        db.session.commit()
        requests.approve_disbursement(disbursement=d, actor=approver)
        db.session.commit()
        ids.append(d.id)
    run_jobs()
    confirmer = make_user("fund_manager")
    client = signed_in(confirmer)
    first = _html(client.get(f"/disbursements/{ids[1]}"))
    assert '<option value="">US dollars (no conversion)' in first and "<option selected" not in first
    requests.confirm_manual_payment(disbursement=_fresh(ids[0]), actor=confirmer, bank_reference="FT1",
                                    local_currency="KES", local_amount="1,292,500")
    db.session.commit()
    page = _html(client.get(f"/disbursements/{ids[1]}"))
    assert '<option selected value="KES">' in page


def test_shown_in_the_viewers_locale(awaiting, signed_in, make_user):
    d_id, *_ = awaiting
    confirmer = make_user("fund_manager")
    requests.confirm_manual_payment(disbursement=_fresh(d_id), actor=confirmer, bank_reference="FT1",
                                    local_currency="KES", local_amount="1292500.5")
    db.session.commit()
    confirmer.locale = "fr"
    db.session.commit()
    page = _html(signed_in(confirmer).get(f"/disbursements/{d_id}"))
    assert "1\u202f292\u202f500,50\xa0KES" in page or "1\u00a0292\u00a0500,50\xa0KES" in page, page[:3000]


# --- the Stripe rail: the conversion is read from the transfer ------------------------------------

def test_stripe_payment_to_an_account_in_shillings_records_what_it_received(payable, run_jobs, fake_stripe,
                                                                             signed_in):
    grant, requester, approver, grantee = payable(stripe_account="acct_1GranteeKE")
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    d = _fresh(d.id)
    assert d.status is S.PAID and d.amount_cents == 1_000_000
    [transfer] = fake_stripe.transfers.values()
    assert (transfer["amount"], transfer["currency"]) == (1_000_000, "usd")
    assert (d.local_currency, d.local_amount_minor, d.exchange_rate, d.exchange_rate_source) == (
        "KES", 129_250_000, Decimal("129.25"), ExchangeRateSource.STRIPE)
    assert verify_ledger() == []
    page = _html(signed_in(grantee).get(f"/disbursements/{d.id}"))
    assert "1,292,500.00" in page and "1 USD = 129.25 KES" in page and "Reported by Stripe" in page


def test_stripe_payment_in_us_dollars_records_no_local_amount(payable, run_jobs, fake_stripe):
    grant, requester, approver, grantee = payable()
    d = requests.request_disbursement(tranche=grant.tranches[0], actor=requester)
    db.session.commit()
    requests.approve_disbursement(disbursement=d, actor=approver)
    db.session.commit()
    run_jobs()
    d = _fresh(d.id)
    assert d.status is S.PAID
    assert (d.local_currency, d.local_amount_minor, d.exchange_rate, d.exchange_rate_source) == (None,) * 4


# --- the staff exports show both -------------------------------------------------------------------

def test_payments_export_shows_the_local_amount_beside_the_usd_amount(awaiting, signed_in, make_user):
    d_id, grant, requester, approver, grantee = awaiting
    confirmer = make_user("fund_manager")
    requests.confirm_manual_payment(disbursement=_fresh(d_id), actor=confirmer, bank_reference="FT-EXPORT-1",
                                    local_currency="UGX", local_amount="37,005,000")
    db.session.commit()
    client = signed_in(confirmer)
    response = client.get("/portfolio/exports/payments.csv")
    assert response.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert (row["amount_usd"], row["local_currency"], row["local_amount"], row["exchange_rate"],
            row["exchange_rate_source"]) == ("10000.00", "UGX", "37005000", "3700.5", "manual")
    assert "FT-EXPORT-1" not in response.get_data(as_text=True)  # bank references stay out of exports
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/portfolio/exports/payments.xlsx").get_data())).active
    header = [c.value for c in sheet[1]]
    values = dict(zip(header, (c.value for c in sheet[2]), strict=True))
    assert (values["amount_usd"], values["local_currency"], values["local_amount"], values["exchange_rate"]) == (
        10_000, "UGX", 37_005_000, 3700.5)
    assert sheet.cell(2, header.index("local_amount") + 1).data_type == "n"


def test_payments_export_of_a_us_dollar_payment_leaves_the_local_columns_empty(awaiting, signed_in, make_user):
    d_id, *_ = awaiting
    confirmer = make_user("fund_manager")
    requests.confirm_manual_payment(disbursement=_fresh(d_id), actor=confirmer, bank_reference="FT2")
    db.session.commit()
    body = signed_in(confirmer).get("/portfolio/exports/payments.csv").get_data(as_text=True).lstrip("\ufeff")
    [row] = list(csv.DictReader(io.StringIO(body)))
    assert (row["local_currency"], row["local_amount"], row["exchange_rate"], row["exchange_rate_source"]) == (
        "", "", "", "")


def test_extreme_figures_are_refused_not_crashed(app):
    # The largest amount of a currency without decimals for one cent: a rate beyond what can be recorded.
    with pytest.raises(ValidationFailed) as refused:
        lc.manual_payment(usd_cents=1, currency="UGX", amount="9" * 18, rate=None)
    assert list(refused.value.errors) == ["local_amount"]
    with pytest.raises(ValidationFailed) as refused:
        lc.manual_payment(usd_cents=10**15, currency="KES", amount=None, rate="9999999999.99999999")
    assert list(refused.value.errors) == ["exchange_rate"]
