"""The catalogues: in step with the code, no fuzzy entry, every placeholder kept, and (once a language is
finished) every entry translated.

`make translations` re-extracts the strings and updates every catalogue; these tests fail when someone adds
or changes a string without doing so, or a translation drops or renames a `%(name)s`.
"""
from __future__ import annotations

import re
import subprocess  # nosec B404: runs pybabel from this venv on this checkout
import sys
from pathlib import Path

import polib
import pytest

from config import BASE_DIR

TRANSLATIONS = BASE_DIR / "translations"
LANGUAGES = ("fr", "es", "ar", "zh", "ru")
PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sd]|%[sd]")
PLURAL_FORMS = {"fr": 2, "es": 2, "ar": 6, "zh": 1, "ru": 3}


def _catalogue(code: str) -> polib.POFile:
    path = TRANSLATIONS / code / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        pytest.skip(f"no {code} catalogue yet")
    return polib.pofile(str(path))


def _keys(catalogue: polib.POFile) -> set[tuple[str | None, str]]:
    return {(e.msgctxt, e.msgid) for e in catalogue if e.msgid and not e.obsolete}


def _placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def test_the_template_holds_exactly_the_strings_in_the_code(tmp_path):
    fresh = tmp_path / "fresh.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "extract", "-F", "babel.cfg", "-k", "_l", "-o", str(fresh), "."],  # nosec B603
                   cwd=BASE_DIR, check=True, capture_output=True)
    in_code, in_template = _keys(polib.pofile(str(fresh))), _keys(polib.pofile(str(TRANSLATIONS / "messages.pot")))
    assert in_code == in_template, (f"run `make translations`: new {sorted(in_code - in_template)[:5]}, "
                                    f"gone {sorted(in_template - in_code)[:5]}")


@pytest.mark.parametrize("code", LANGUAGES)
def test_each_catalogue_has_the_templates_entries_and_nothing_fuzzy(code):
    catalogue = _catalogue(code)
    assert _keys(catalogue) == _keys(polib.pofile(str(TRANSLATIONS / "messages.pot")))
    assert [e.msgid for e in catalogue.fuzzy_entries()] == []
    assert f"nplurals={PLURAL_FORMS[code]};" in catalogue.metadata["Plural-Forms"].replace(" ", "")


@pytest.mark.parametrize("code", LANGUAGES)
def test_translations_keep_every_placeholder(code):
    wrong = []
    for entry in _catalogue(code).translated_entries():
        if entry.msgid_plural:
            allowed = set(_placeholders(entry.msgid)) | set(_placeholders(entry.msgid_plural))
            forms = [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
            if any(set(_placeholders(form)) - allowed for form in forms) or (
                    len(forms) > 1 and _placeholders(forms[-1]) != _placeholders(entry.msgid_plural)):
                wrong.append(entry.msgid)
        elif _placeholders(entry.msgstr) != _placeholders(entry.msgid):
            wrong.append(entry.msgid)
    assert wrong == []


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_entry_is_translated(code):
    catalogue = _catalogue(code)
    assert [e.msgid for e in catalogue.untranslated_entries()] == []


@pytest.mark.parametrize("code", LANGUAGES)
def test_the_compiled_catalogue_is_the_catalogue(code):
    """What the pages use is the .mo: it must hold every translation of the .po, word for word, so a
    catalogue edited and not compiled (`make translations`) fails here rather than showing English."""
    source = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural for e in _catalogue(code).translated_entries()}
    path = TRANSLATIONS / code / "LC_MESSAGES" / "messages.mo"
    assert path.exists(), f"{code} is not compiled: run make translations"
    compiled = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural for e in polib.mofile(str(path)) if e.msgid}
    assert {key: value for key, value in source.items() if compiled.get(key) != value} == {}

