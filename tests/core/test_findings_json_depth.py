"""Finding: JSON nested 5,000 deep was a RecursionError (a 500) on any route, anonymously."""
from __future__ import annotations

import json

import pytest
from flask import request

from facility.core.inputs import MAX_JSON_DEPTH, DepthLimitedJSON, json_depth_exceeds

DEEP = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000


@pytest.mark.parametrize("path", ["/", "/signin", "/language", "/api/v1/auth/tokens", "/api/v1/users",
                                  "/api/v1/me", "/webhooks/stripe", "/no/such/page"])
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_deep_json_is_a_400_anywhere(client, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert response.content_type == "application/problem+json"
        assert str(MAX_JSON_DEPTH) in response.json["detail"]


def test_deep_json_on_a_put_and_patch_too(client):
    for method in ("put", "patch"):
        response = getattr(client, method)("/api/v1/me", data=DEEP, content_type="application/json")
        assert response.status_code == 400


def test_json_at_the_limit_still_reaches_the_endpoint(client):
    body = json.dumps({"email": "x@example.org", "password": "wrong", "extra": [[[[1]]]]})
    response = client.post("/api/v1/auth/tokens", data=body, content_type="application/json")
    assert response.status_code in (401, 422)


@pytest.mark.parametrize(("text", "deep"), [
    ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, False),
    ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), True),
    (json.dumps({"s": "[" * 10_000}), False),  # brackets inside a string do not count
    (json.dumps({"s": '\\"[[[' * 3000}), False),  # nor after escaped quotes
    (json.dumps([[i] for i in range(10_000)]), False),  # many, but side by side
    ("not json at all", False),
])
def test_depth_is_counted_without_recursion(text, deep):
    assert json_depth_exceeds(text) is deep
    assert json_depth_exceeds(text.encode()) is deep


def test_the_apps_json_refuses_deep_text(app):
    provider = DepthLimitedJSON(app)
    with pytest.raises(ValueError, match="deep"):
        provider.loads(DEEP)
    assert provider.loads("[[1]]") == [[1]]
    with app.test_request_context("/", method="POST", data=DEEP, content_type="application/json"):
        assert request.get_json(silent=True) is None
