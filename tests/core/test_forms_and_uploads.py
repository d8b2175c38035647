"""Page helpers: `attempt` keeps 403/404 for the error pages; uploads sniffed against the caller's types."""
import os

import pytest
from flask_wtf import FlaskForm
from wtforms import StringField

from facility.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from facility.core.forms import FAILED, attempt
from facility.core.uploads import save_upload, sniff, upload_path


class NameForm(FlaskForm):
    name = StringField()


def _refuse(error):
    def service(**kwargs):
        raise error
    return service


@pytest.mark.parametrize("error", [PermissionDenied("no"), NotFound("gone")])
def test_attempt_reraises_403_and_404(app, error):
    with app.test_request_context(method="POST"):
        form = NameForm(meta={"csrf": False})
        with pytest.raises(type(error)):
            attempt(form, _refuse(error))
        assert not form.form_errors and not form.errors


def test_attempt_puts_other_refusals_on_the_form(app):
    with app.test_request_context(method="POST"):
        form = NameForm(meta={"csrf": False})
        assert attempt(form, _refuse(ValidationFailed("bad", errors={"full_name": ["Too short."]})),
                       field_map={"full_name": "name"}) is FAILED
        assert form.name.errors == ["Too short."]
        assert attempt(form, _refuse(Conflict("Too late."))) is FAILED
        assert form.form_errors == ["Too late."]
        assert attempt(form, lambda **kwargs: kwargs, value=1) == {"value": 1}


def test_sniff_narrowed_by_the_caller():
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
    assert sniff(b"GIF89a...") == "image/gif" and sniff(b"plain words") == "text/plain"
    assert sniff(png, {"image/png"}) == "image/png"
    assert sniff(b"GIF89a...", {"image/png"}) is None and sniff(b"plain words", {"image/png"}) is None


def test_saved_under_the_area_by_random_key(app):
    stored = save_upload("uploads/test", "../../x.txt", b"hello", "text/plain")
    path = upload_path("uploads/test", stored.storage_key)
    assert path.startswith(os.path.join(app.instance_path, "uploads", "test"))
    with open(path, "rb") as handle:
        assert handle.read() == b"hello"
    assert stored.original_filename == "x.txt" and stored.size_bytes == 5
    with pytest.raises(ValueError):
        upload_path("../static", stored.storage_key)
