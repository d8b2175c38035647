"""Finding: money fields accepted `1e3`, `1_000`, full-width and Arabic-Indic digits."""
from __future__ import annotations

import marshmallow as ma
import pytest

from facility.accounts.models import OrgKind
from facility.api.schemas import cents_field
from facility.core.forms import parse_usd
from tests.conftest import get_csrf


@pytest.mark.parametrize(("text", "cents"), [
    ("1000", 100_000), ("1,000", 100_000), ("1,000,000.5", 100_000_050), ("12,345.67", 1_234_567),
    ("0.99", 99), ("$1,250", 125_000), ("USD 1 250.50", 125_050), ("  7 ", 700), ("1000.1", 100_010),
])
def test_plain_amounts_are_read_exactly(app, text, cents):
    with app.test_request_context():
        assert parse_usd(text) == cents


@pytest.mark.parametrize("text", [
    "1e3", "1E3", "1_000", "１０００", "١٠٠٠", "۱۰۰۰", "१०००", "1,00", "10,00,000", "1,0000", ",100", "100,",
    "1,000.", ".5", "1.234", "1.000", "+5", "0x10", "NaN", "Infinity", "1 000,50", "1,000 000", "5-", "--5",
    "1.5.5", "²", "1\u00a0000",
])
def test_anything_else_is_refused_with_a_message(app, text):
    with app.test_request_context(), pytest.raises(ValueError) as refused:
        parse_usd(text)
    assert str(refused.value)


def test_the_form_shows_the_message_and_pledges_nothing(client, login, make_user, make_org):
    donor = make_user("donor", organization=make_org(name="Foundation", kind=OrgKind.DONOR, country="NOR"))
    login(client, donor)
    token = get_csrf(client, "/contributions")
    response = client.post("/contributions", data={"amount": "1e3", "method": "wire", "csrf_token": token})
    assert response.status_code == 422
    assert "digits 0-9" in response.get_data(as_text=True)


class _Amount(ma.Schema):
    amount_cents = cents_field()


@pytest.mark.parametrize("value", [True, False, 1.5, 1000.0, 1e3, "1000", "1e3", None, [100], {"v": 1}, 10**16])
def test_api_cents_fields_take_only_integers(value):
    with pytest.raises(ma.ValidationError):
        _Amount().load({"amount_cents": value})


def test_api_cents_field_takes_an_integer():
    assert _Amount().load({"amount_cents": 100_000}) == {"amount_cents": 100_000}
