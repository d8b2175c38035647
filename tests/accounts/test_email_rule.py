"""One e-mail-address rule for the sign-up page, the API and the command line (`services.email_problem`)."""
import pytest
import sqlalchemy as sa

from facility.accounts import services
from facility.accounts.models import User
from facility.extensions import db
from tests.conftest import get_csrf

GOOD = "correct horse battery staple"
ACCEPTED = ["amina@kiosk.test", "Amina.K+grants@Example.ORG", "founder@solarkiosk.demo"]
REFUSED = ["amina", "amina@", "amina@localhost", "amina@kiosk.local", "amina@kiosk.invalid", "a b@example.org",
           "amina@example..org", "x" * 310 + "@example.org"]


@pytest.mark.parametrize("address", ACCEPTED)
def test_the_rule_accepts(address):
    assert services.email_problem(address) is None


@pytest.mark.parametrize("address", REFUSED + ["", None])
def test_the_rule_refuses(address):
    assert services.email_problem(address)


def _web(client, email):
    data = {"role": "city_official", "name": "Amina", "email": email, "password": GOOD,
            "csrf_token": get_csrf(client, "/signup")}
    return client.post("/signup", data=data)


def _api(client, email):
    return client.post("/api/v1/users", json={"role": "city_official", "name": "Amina", "email": email,
                                                "password": GOOD})


def _cli(app, email):
    return app.test_cli_runner().invoke(args=["facility", "create-user", email, "--role", "reviewer",
                                              "--password", GOOD])


def _exists(email):
    return db.session.execute(sa.select(User).where(User.email == email.lower())).scalar_one_or_none() is not None


def test_a_test_domain_is_accepted_everywhere(app, client):
    assert _web(client, "web@kiosk.test").status_code == 302
    assert _api(app.test_client(), "api@kiosk.test").status_code == 201
    assert _cli(app, "cli@kiosk.test").exit_code == 0
    assert all(_exists(f"{where}@kiosk.test") for where in ("web", "api", "cli"))


@pytest.mark.parametrize("address", ["amina@localhost", "amina@", "a b@example.org"])
def test_a_bad_address_is_refused_everywhere(app, client, address):
    message = services.email_problem(address)
    web = _web(client, address)
    assert web.status_code == 422 and message in web.get_data(as_text=True)
    api = _api(app.test_client(), address)
    assert api.status_code == 422 and message in str(api.get_json()["errors"]["email"])
    cli = _cli(app, address)
    assert cli.exit_code == 1 and message in cli.output
    assert not _exists(address)
