"""API base: tokens, sign-up, /me, problem JSON, OpenAPI document."""
import pytest

from facility.accounts.models import ApiToken, User
from facility.extensions import db
from tests.conftest import PASSWORD

GOOD = "correct horse battery staple"


def test_token_then_me(client, make_user):
    user = make_user("donor", email="donor@example.org")
    response = client.post("/api/v1/auth/tokens", json={"email": "donor@example.org", "password": PASSWORD})
    assert response.status_code == 201
    token = response.json["token"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json["id"] == user.id and me.json["roles"] == ["donor"]


def test_wrong_password_is_401_problem(client, make_user):
    make_user("donor", email="donor@example.org")
    response = client.post("/api/v1/auth/tokens", json={"email": "donor@example.org", "password": "nope nope nope"})
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 401 and response.json["title"] and response.json["detail"]


def test_me_needs_a_token(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer ufi_made_up"})
    assert bad.status_code == 401 and "invalid" in bad.json["detail"]


def test_api_ignores_the_cookie_session(client, make_user, login):
    user = make_user("donor")
    login(client, user)
    assert client.get("/api/v1/me").status_code == 401


def test_revoked_token_stops_working(client, make_user, api_headers):
    user = make_user("donor")
    headers = api_headers(user)
    token_id = db.session.query(ApiToken).one().id
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_cannot_revoke_someone_elses_token(client, make_user, api_headers):
    owner = make_user("donor")
    api_headers(owner)
    owner_token = db.session.query(ApiToken).one()
    other = make_user("donor")
    response = client.delete(f"/api/v1/auth/tokens/{owner_token.id}", headers=api_headers(other))
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(ApiToken, owner_token.id).revoked_at is None


def test_list_tokens_is_paginated(client, make_user, api_headers):
    user = make_user("donor")
    headers = api_headers(user)
    for _ in range(3):
        api_headers(user)
    body = client.get("/api/v1/auth/tokens?per_page=2&page=2", headers=headers).json
    assert body["total"] == 4 and body["page"] == 2 and body["per_page"] == 2 and len(body["items"]) == 2
    assert all("token" not in item for item in body["items"])


def test_sign_up_innovator(client):
    response = client.post("/api/v1/users", json={
        "email": "inno@example.org", "password": GOOD, "name": "Inno", "role": "innovator",
        "organization": {"name": "Labs", "country": "KEN", "org_type": "ngo"},
    })
    assert response.status_code == 201
    assert response.json["organization"]["org_type"] == "ngo"
    assert response.json["roles"] == ["innovator"]


@pytest.mark.parametrize("role", ["fund_manager", "reviewer", "admin"])
def test_sign_up_as_privileged_role_refused(client, role):
    response = client.post("/api/v1/users", json={"email": "x@example.org", "password": GOOD, "name": "X",
                                                   "role": role})
    assert response.status_code == 422
    assert "role" in response.json["errors"]
    assert db.session.query(User).count() == 0


def test_sign_up_per_field_errors(client):
    response = client.post("/api/v1/users", json={"email": "nope", "password": "x", "name": "", "role": "pirate",
                                                   "organization": {"name": "", "country": "K"}})
    assert response.status_code == 422
    errors = response.json["errors"]
    assert {"email", "name", "role", "organization.name", "organization.country"} <= set(errors)
    assert all(isinstance(m, list) and m for m in errors.values())


def test_sign_up_rule_errors_are_422(client):
    response = client.post("/api/v1/users", json={"email": "i@example.org", "password": "short", "name": "I",
                                                   "role": "innovator"})
    assert response.status_code == 422
    assert {"password", "organization"} <= set(response.json["errors"])


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/users", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


def test_unknown_api_path_is_problem_404(client):
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404 and response.content_type == "application/problem+json"


def test_openapi_document_lists_the_endpoints(client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/auth/tokens", "/api/v1/users", "/api/v1/me"):
        assert path in doc["paths"], path
    assert "SignUp" in doc["components"]["schemas"]


def test_api_has_no_csrf_but_needs_bearer(client, make_user, api_headers):
    user = make_user("donor")
    tokens = client.get("/api/v1/auth/tokens", headers=api_headers(user))
    assert tokens.status_code == 200


def test_openapi_document_says_which_endpoints_need_a_token(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/auth/tokens."}
    assert spec["security"] == [{"bearerAuth": []}]  # the default: a token is needed
    anonymous = {(path, method) for path, operations in spec["paths"].items()
                 for method, operation in operations.items()
                 if isinstance(operation, dict) and operation.get("security") == []}
    assert {("/api/v1/auth/tokens", "post"), ("/api/v1/users", "post"), ("/api/v1/facility", "get"),
            ("/api/v1/challenges", "get")} <= anonymous
    assert ("/api/v1/me", "get") not in anonymous
    # What the document says is what the API does.
    for path, method in anonymous:
        if "{" not in path and method == "get":
            assert client.get(path).status_code == 200, path
    assert client.get("/api/v1/me").status_code == 401


def test_openapi_schema_names_are_unique(backend_app, redis_url, tmp_path):
    """Two schemas with one name would silently be renamed in the OpenAPI document."""
    import warnings

    from tests.conftest import make_test_app

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_test_app(backend_app.config["SQLALCHEMY_DATABASE_URI"], redis_url, str(tmp_path))
    assert not [w for w in caught if "Multiple schemas resolved" in str(w.message)]
