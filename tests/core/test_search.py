"""Full-text search (migration 0024, `facility.core.search`): ranking, words, accents, hostile input,
who may find which proposal, the PostgreSQL indexes in use, SQLite's FTS tables kept in step."""
from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_babel import force_locale
from flask_login import AnonymousUserMixin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facility.accounts.models import Organization, OrgKind
from facility.challenges.models import Challenge
from facility.challenges.queries import public_challenges
from facility.core import search, search_schema
from facility.core.search import configuration, fts5_query, words
from facility.extensions import db
from facility.proposals import policy
from facility.proposals.models import Proposal, ProposalStatus
from facility.proposals.queries import search_proposals
from tests.factories import NOW
from tests.factories.accounts import make_org, make_user
from tests.factories.challenges import make_challenge
from tests.factories.cities import make_city
from tests.factories.proposals import make_proposal

pytestmark = pytest.mark.usefixtures("clock")

HOSTILE = ['"', 'water"', '""', "'", "NEAR(", "a AND", "AND", "OR NOT", "*", "water*", "-water", "title:water",
           "^water", "{title}: x", "(", ")", "\\", "%", "_", "!!!", "&|!<->", "a:*", "x\x00y", "::regconfig",
           "'; DROP TABLE challenges; --", "🙂 water", "١٢٣", "e-mail", "11.2"]


def _published(title="Untitled", summary="Nothing here.", description="None.", **fields) -> Challenge:
    fields.setdefault("opens_at", NOW - timedelta(days=1))
    return make_challenge(via="models", state="published", title=title, summary=summary,
                          description=description, **fields)


def _titles(q: str | None, **filters) -> list[str]:
    return [c.title for c in db.session.execute(public_challenges(q=q, **filters)).scalars()]


def test_a_title_hit_ranks_before_a_summary_hit_before_a_description_hit(app):
    # The usual order (by deadline) would list them the other way round.
    _published("Roads", description="Drinking water at every school.", closes_at=NOW + timedelta(days=5))
    _published("Schools", summary="Water kiosks run by the community.", closes_at=NOW + timedelta(days=6))
    _published("Water for markets", closes_at=NOW + timedelta(days=7))
    _published("Lighting", summary="Street lights.", closes_at=NOW + timedelta(days=8))
    assert _titles("water") == ["Water for markets", "Schools", "Roads"]
    assert _titles(None) == ["Roads", "Schools", "Water for markets", "Lighting"]
    assert _titles("   ") == _titles(None)


def test_every_word_in_any_order(app):
    _published("Clean water for schools")
    _published("Clean air", summary="Schools breathe.")
    assert _titles("schools clean water") == ["Clean water for schools"]
    assert sorted(_titles("schools clean")) == ["Clean air", "Clean water for schools"]
    assert _titles("clean drought") == []


def test_case_and_latin_accents_are_ignored(app):
    _published("São Paulo café network", summary="ÉCOLES PUBLIQUES")
    for q in ("sao", "SÃO", "Sao paulo", "CAFE", "café", "écoles", "ecoles publiques"):
        assert _titles(q) == ["São Paulo café network"], q
    assert _titles("caf") == []  # whole words, no prefixes


def test_search_keeps_the_other_filters(app):
    _published("Water one", sdg_targets=["11.2"])
    _published("Water two", sdg_targets=["6.1"])
    assert _titles("water", sdg_target="6.1") == ["Water two"]
    assert _titles(None, sdg_target="11.2") == ["Water one"]
    assert _titles(None, sdg_target="11") == []  # a code, not a prefix of one


@pytest.mark.parametrize("q", HOSTILE)
def test_punctuation_and_query_syntax_are_only_text(app, q):
    _published("Water pumps", summary="See title: water.")
    found = _titles(q)
    if "water" in q.lower():
        assert found == ["Water pumps"], q
    else:
        assert found == [], q


def _titles_in(app, language: str, q: str) -> list[str]:
    """What a visitor reading `language` finds for `q` (their locale picks the text search configuration)."""
    with app.test_request_context(), force_locale(language):
        return _titles(q)


def test_a_visitor_language_maps_to_a_text_search_configuration(app):
    assert [configuration(code) for code in ("en", "fr", "es", "ru", "ar", "zh", "zh_Hans", "de")] == [
        "english", "french", "spanish", "russian", "simple", "simple", "simple", "english"]
    assert configuration() == "english"  # outside a request: the default locale
    with app.test_request_context(), force_locale("fr"):
        assert configuration() == "french"


def test_words_are_stemmed_in_the_visitor_language_on_postgresql(app, backend):
    if backend != "postgresql":
        pytest.skip("SQLite's FTS5 tables match words as written (the embedded default)")
    _published("City parks", summary="The libraries of a city.")
    _published("Logements sociaux", summary="Écoles économiques.")
    _published("Новые города", summary="Escuelas públicas.")
    assert _titles("cities") == ["City parks"]  # English by default: "cities" and "city" share the stem
    assert _titles("library") == ["City parks"]
    assert _titles("the") == []  # an English stop word: nothing to look for
    assert _titles("logement social") == []  # not English stems of "logements sociaux"
    assert _titles_in(app, "fr", "logement social") == ["Logements sociaux"]
    assert _titles_in(app, "fr", "ecole ÉCONOMIQUE") == ["Logements sociaux"]  # stems, and accents folded
    assert _titles_in(app, "ru", "город") == ["Новые города"]
    assert _titles_in(app, "es", "escuela publica") == ["Новые города"]
    assert _titles_in(app, "ar", "the") == ["City parks"]  # `simple`: every word as written, no stop words
    assert _titles_in(app, "zh", "cities") == []  # and no stemming
    assert _titles_in(app, "en", "cities") == ["City parks"]


def test_a_search_keeps_at_most_one_more_than_the_match_limit(app, client, monkeypatch):
    for n in range(6):
        _published(f"Water {n}", closes_at=NOW + timedelta(days=5 + n))
    _published("Air", closes_at=NOW + timedelta(days=3))
    monkeypatch.setattr(search, "MATCH_LIMIT", 3)
    found = _titles("water")
    assert len(found) == 4 and all(title.startswith("Water") for title in found), found
    page = db.paginate(public_challenges(q="water"), page=1, per_page=2, error_out=False)
    assert page.total == 4 and len(page.items) == 2  # the count stops past the limit
    assert search.is_cut(page.total) and not search.is_cut(3)
    assert len(_titles(None)) == 7  # without words nothing is cut
    text = client.get("/challenges?q=water").text
    assert "More than 3 challenges" in text and "4 challenges" not in text
    assert "More than 3 results: add words to narrow the search." in text
    assert "More than" not in client.get("/challenges").text
    monkeypatch.setattr(search, "MATCH_LIMIT", 1000)
    assert len(_titles("water")) == 6
    assert "More than" not in client.get("/challenges?q=Water").text  # another address: not the cached page


def test_quoting_for_fts5():
    assert words(' a "b" ! c\x00d ') == ["a", '"b"', "c", "d"]
    assert fts5_query(['say "hi"', "x"]) == '"say ""hi""" "x"'


@pytest.fixture
def seeded(app):
    """A challenge with a proposal, and an auditor (who reads every proposal); made once per test, not per example."""
    challenge = _published("Water pumps", summary="Solar power.", description="Kiosks.")
    make_proposal(challenge, via="models", title="Water pumps for Kisumu")
    return make_user("auditor", enrolled=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=60))
def test_any_text_is_a_valid_query(seeded, q):
    """Random text never makes either database fail, for challenges and for proposals; the rows found
    always hold the words searched for (here: the words of the one row, or nothing)."""
    challenges = db.session.execute(public_challenges(q=q)).scalars().all()
    proposals = db.session.execute(search_proposals(seeded, q)).scalars().all()
    assert len(challenges) <= 1 and len(proposals) <= 1
    if not words(q):  # nothing to look for: everything when q is blank, else nothing
        assert (len(challenges), len(proposals)) == ((1, 1) if not q.strip() else (0, 0))


# --- proposals: only those the viewer may see ------------------------------------------------------

@pytest.fixture
def competition(app):
    """Two challenges of Kampala, one closed and one open, with proposals of two organisations in
    several statuses, all with the word "solar"; and the people who look for them."""
    city, _ = make_city(via="models")
    city_org = db.session.get(Organization, city.organization_id)
    closed = make_challenge(city, via="models", state="published", opens_at=NOW - timedelta(days=20),
                            closes_at=NOW - timedelta(days=1))
    still_open = make_challenge(city, via="models", state="published", opens_at=NOW - timedelta(days=1),
                                closes_at=NOW + timedelta(days=20))
    mine = make_org(name="Sun Co", kind=OrgKind.INNOVATOR)
    theirs = make_org(name="Moon Co", kind=OrgKind.INNOVATOR)
    for challenge in (closed, still_open):
        for org in (mine, theirs):
            for status in (ProposalStatus.DRAFT, ProposalStatus.SUBMITTED, ProposalStatus.WITHDRAWN):
                make_proposal(challenge, via="models", org=org, status=status,
                              title=f"Solar {org.name} {status.value} {challenge.id}")
    other_city, _ = make_city(name="Suva", country="FJI", via="models")
    return {
        "closed": closed, "open": still_open, "mine": mine,
        "users": {
            "anonymous": AnonymousUserMixin(),
            "innovator": make_user("innovator", organization=mine),
            "donor": make_user("donor", organization=make_org(name="Gift Co", kind=OrgKind.DONOR)),
            "reviewer": make_user("reviewer"),
            "official": make_user("city_official", organization=city_org),
            "other_official": make_user("city_official",
                                        organization=db.session.get(Organization, other_city.organization_id)),
            "fund_manager": make_user("fund_manager", enrolled=False),
            "auditor": make_user("auditor", enrolled=False),
        },
    }


def _found(user, q: str | None = "solar") -> set[int]:
    return {p.id for p in db.session.execute(search_proposals(user, q)).scalars().unique()}


@pytest.mark.parametrize("who", ["anonymous", "innovator", "donor", "reviewer", "official", "other_official",
                                 "fund_manager", "auditor"])
def test_proposal_search_finds_exactly_what_the_policy_shows(competition, who):
    user = competition["users"][who]
    everything = db.session.execute(sa.select(Proposal)).scalars().all()
    allowed = {p.id for p in everything if policy.can_view(user, p) is None}
    assert _found(user) == allowed
    assert _found(user, q=None) == allowed  # no words: the same rule, every visible proposal


def test_proposal_search_refuses_the_wrong_role_organisation_and_anonymous(competition):
    users, closed = competition["users"], competition["closed"]
    assert _found(users["anonymous"]) == set()
    assert _found(users["reviewer"]) == set()
    assert _found(users["donor"]) == set()
    assert _found(users["other_official"]) == set()
    mine = {p.id for p in db.session.execute(sa.select(Proposal).where(
        Proposal.organization_id == competition["mine"].id)).scalars()}
    assert _found(users["innovator"]) == mine
    competing_closed = {p.id for p in db.session.execute(sa.select(Proposal).where(
        Proposal.challenge_id == closed.id, Proposal.status == ProposalStatus.SUBMITTED)).scalars()}
    assert len(competing_closed) == 2 and _found(users["official"]) == competing_closed
    assert len(_found(users["fund_manager"])) == 12


def test_proposal_search_ranks_and_matches_words(competition):
    auditor = competition["users"]["auditor"]
    proposals = db.session.execute(sa.select(Proposal).order_by(Proposal.id)).scalars().all()
    proposals[5].summary = "A kiosk network."
    proposals[7].title = "Kiosk batteries"
    proposals[9].approach = "Batteries in every kiosk."
    db.session.commit()
    ranked = [p.id for p in db.session.execute(search_proposals(auditor, "KIOSK")).scalars()]
    assert ranked == [proposals[7].id, proposals[5].id, proposals[9].id]
    assert [p.id for p in db.session.execute(search_proposals(auditor, "kiosk batteries")).scalars()] == [
        proposals[7].id, proposals[9].id]


# --- the database side ---------------------------------------------------------------------------

def test_sqlite_triggers_keep_the_fts_tables_in_step(app, backend):
    if backend != "sqlite":
        pytest.skip("PostgreSQL's generated column is computed by the database itself")

    def fts_ids(word):
        return db.session.execute(sa.text("SELECT rowid FROM challenges_fts WHERE challenges_fts MATCH :q"),
                                  {"q": f'"{word}"'}).scalars().all()

    challenge = _published("Flood sensors", summary="River levels.", description="Telemetry.")
    assert fts_ids("flood") == fts_ids("river") == fts_ids("telemetry") == [challenge.id]
    challenge.title, challenge.description = "Drought sensors", "Soil moisture."
    db.session.commit()
    assert fts_ids("flood") == [] and fts_ids("telemetry") == []
    assert fts_ids("drought") == fts_ids("river") == fts_ids("moisture") == [challenge.id]
    assert _titles("drought") == ["Drought sensors"]
    db.session.execute(sa.text("INSERT INTO challenges_fts(challenges_fts, rank) VALUES ('integrity-check', 1)"))
    db.session.delete(challenge)
    db.session.commit()
    assert fts_ids("drought") == [] and _titles("drought") == []
    for table in search_schema.SEARCH_COLUMNS:  # raises when the index and the rows disagree
        db.session.execute(sa.text(f"INSERT INTO {table}_fts({table}_fts, rank) VALUES ('integrity-check', 1)"))  # noqa: S608


def test_updates_and_deletes_reach_the_search_on_both_databases(app):
    challenge = _published("Flood sensors")
    challenge.title = "Drought sensors"
    db.session.commit()
    assert _titles("flood") == [] and _titles("drought") == ["Drought sensors"]
    db.session.delete(challenge)
    db.session.commit()
    assert _titles("drought") == []


def _plan(query) -> str:
    """PostgreSQL's plan for `query`, as the application sends it (the driver's statement and parameters)."""
    connection = db.session.connection()
    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    sa.event.listen(connection, "before_cursor_execute", capture)
    try:
        db.session.execute(query).all()
    finally:
        sa.event.remove(connection, "before_cursor_execute", capture)
    statement, parameters = sent[0]
    return "\n".join(connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars())  # type: ignore[arg-type]


def test_postgresql_uses_the_gin_indexes(app, backend):
    if backend != "postgresql":
        pytest.skip("GIN indexes are PostgreSQL's")
    template = _published("Template", sdg_targets=["6.1"])
    org = make_org(name="Bulk Co", kind=OrgKind.INNOVATOR)
    # 5,000 challenges and proposals, one in 500 about water (and, for challenges, SDG target 11.2).
    db.session.execute(sa.text("""
        INSERT INTO challenges (city_id, title, summary, description, focus_area, sdg_targets, prize_pool_cents,
            max_award_cents, opens_at, closes_at, eligible_org_types, eligible_countries, status, created_at, updated_at)
        SELECT city_id, 'Challenge ' || n, CASE WHEN n % 500 = 0 THEN 'Water.' ELSE 'Air.' END, description,
            focus_area, CASE WHEN n % 500 = 0 THEN '["11.2"]'::json ELSE '["6.1"]'::json END, prize_pool_cents,
            max_award_cents, opens_at, closes_at, eligible_org_types, eligible_countries, status, created_at, updated_at
        FROM challenges, generate_series(1, 5000) AS n WHERE challenges.id = :id"""), {"id": template.id})
    db.session.execute(sa.text("""
        INSERT INTO proposals (challenge_id, organization_id, title, summary, approach, team, requested_cents,
            beneficiary_groups, privacy_impact, status, created_at, updated_at)
        SELECT :challenge, :org, CASE WHEN n % 500 = 0 THEN 'Water kiosks' ELSE 'Proposal ' || n END, '', '', '', 0,
            '[]'::json, '', 'draft', now(), now()
        FROM generate_series(1, 5000) AS n"""), {"challenge": template.id, "org": org.id})
    for index in ("ix_challenges_search_vector", "ix_challenges_sdg_targets_gin", "ix_proposals_search_vector"):
        # What autovacuum would do: move the new entries from the GIN's pending list into the index.
        db.session.execute(sa.text("SELECT gin_clean_pending_list(CAST(:index AS regclass))"), {"index": index})
    db.session.execute(sa.text("ANALYZE challenges"))
    db.session.execute(sa.text("ANALYZE proposals"))
    plan = _plan(public_challenges(q="water"))
    assert "Bitmap Index Scan on ix_challenges_search_vector" in plan, plan
    plan = _plan(public_challenges(sdg_target="11.2"))
    assert "Bitmap Index Scan on ix_challenges_sdg_targets_gin" in plan, plan
    plan = _plan(search_proposals(make_user("auditor", enrolled=False), "water"))
    assert "Bitmap Index Scan on ix_proposals_search_vector" in plan, plan
    assert len(db.session.execute(public_challenges(q="water")).scalars().all()) == 10
    db.session.rollback()


@pytest.mark.parametrize("filename", ["0024_full_text_search.py", "0030_search_languages.py"])
def test_the_migrations_fold_the_same_accents_as_the_application(filename):
    """The migrations copy the accent table and the names (they must not change with the application)."""
    path = Path(__file__).parents[2] / "migrations" / "versions" / filename
    spec = importlib.util.spec_from_file_location(f"migration_{filename[:4]}", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert (migration.ACCENTED, migration.FOLDED) == (search_schema.ACCENTED, search_schema.FOLDED)
    assert migration.SEARCH_COLUMNS == search_schema.SEARCH_COLUMNS
    if hasattr(migration, "VECTORS"):
        assert {(column, config) for column, configs in migration.VECTORS.items() for config in configs} == {
            (column, config) for config, column in search_schema.VECTORS.items()}
    else:
        assert migration.JSON_LIST_INDEXES == search_schema.JSON_LIST_INDEXES


def test_only_the_search_objects_are_left_out_of_the_schema_comparison(app, backend):
    """Without `include_name` the comparison sees exactly the objects migrations 0024 and 0030 added, so the filter
    hides nothing else and the objects are there."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    names = set()
    for change in diff:
        change = change[0] if isinstance(change, list) else change
        kind, obj = change[0], change[-1] if change[0] == "remove_column" else change[1]
        names.add((kind, getattr(obj, "name", None)))
    if backend == "sqlite":
        fts = {name for _, name in names}
        assert {kind for kind, _ in names} == {"remove_table"}, diff
        assert {"challenges_fts", "proposals_fts"} <= fts, diff
        assert all(name.startswith(("challenges_fts", "proposals_fts")) for name in fts), diff
    else:
        assert ("remove_column", "search_vector") in names, diff
        assert {n for n in names if n[0] == "remove_index"} <= {
            ("remove_index", name) for name in [*search_schema.JSON_LIST_INDEXES, *search_schema.vector_indexes()]}, diff
        assert {n for n in names if n[0] == "remove_column"} == {
            ("remove_column", column) for column in search_schema.VECTORS.values()}, diff
        assert {kind for kind, _ in names} <= {"remove_column", "remove_index"}, diff

