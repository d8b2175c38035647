"""Scoring statistics: hand-computed examples, the numpy/baseline oracle, and the SQL."""
from __future__ import annotations

import math
import random

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from facility.extensions import db
from facility.review.statistics import ProposalStats, rank_arrays, weighted_hundredths
from tests.review.oracles import (
    ReviewScores,
    icc_one_way,
    krippendorff_alpha_interval,
    rank_proposals,
    rank_proposals_baseline,
    ranking_from_rows,
    ranking_sql,
    reviews_alpha,
    round6,
    validate_weights,
    weighted_score,
)

ONE = {"c": 100}  # a one-criterion rubric: the weighted score is the score itself


def r(proposal, reviewer, score):
    return ReviewScores(proposal, reviewer, None if score is None else {"c": score})


def both(reviews, weights=ONE, proposal_ids=()):
    """Run both implementations, check they agree, return the result."""
    fast = rank_proposals(reviews, weights, proposal_ids)
    slow = rank_proposals_baseline(reviews, weights, proposal_ids)
    assert fast == slow
    return fast


# -- weighted scores ------------------------------------------------------------------------


def test_weighted_score_by_hand():
    weights = {"quality": 50, "impact": 30, "feasibility": 20}
    # (8*50 + 6*30 + 5*20) / 100 = (400 + 180 + 100) / 100 = 6.8
    assert weighted_score({"quality": 8, "impact": 6, "feasibility": 5}, weights) == 6.8
    assert weighted_hundredths({"quality": 8, "impact": 6, "feasibility": 5}, weights) == 680
    assert weighted_score({"quality": 10, "impact": 10, "feasibility": 10}, weights) == 10
    assert weighted_score({"quality": 8, "impact": 6}, weights) is None  # incomplete


@pytest.mark.parametrize("weights", [{"a": 50, "b": 49}, {"a": 101, "b": -1}, {"a": 50.0, "b": 50}, {}])
def test_bad_weights_are_refused(weights):
    with pytest.raises(ValueError):
        validate_weights(weights)


@pytest.mark.parametrize("scores", [{"c": 11}, {"c": -1}, {"c": 7.5}, {"c": True}, {"c": 5, "other": 3}])
def test_bad_scores_are_refused(scores):
    with pytest.raises(ValueError):
        weighted_hundredths(scores, ONE)


def test_round6_is_half_even_on_the_scaled_value():
    assert round6(1.23456749) == 1.234567
    assert round6(0.0000005) == 0.0  # 0.5 at the 7th decimal rounds to even (0)
    assert round6(0.0000015) == 0.000002
    assert math.copysign(1, round6(-0.0000001)) == 1  # no negative zero


# -- normalisation and ranking --------------------------------------------------------------


def test_normalisation_by_hand():
    # Reviewer A: 8, 6, 4 -> mean 6, population sd sqrt((4+0+4)/3) = sqrt(8/3) = 1.632993
    #   z = 2/1.632993 = 1.224745, 0, -1.224745
    # Reviewer B: 5, 5, 2 -> mean 4, population sd sqrt((1+1+4)/3) = sqrt(2) = 1.414214
    #   z = 0.707107, 0.707107, -1.414214
    reviews = [r(1, "A", 8), r(2, "A", 6), r(3, "A", 4), r(1, "B", 5), r(2, "B", 5), r(3, "B", 2)]
    ranking = both(reviews)
    p1, p2, p3 = ranking.ranked
    # P1: (1.224745 + 0.707107) / 2 = 0.965926; raw (8+5)/2 = 6.5; sample sd |8-5|/sqrt(2) = 2.121320
    assert (p1.proposal_id, p1.rank, p1.normalised, p1.raw_mean, p1.sd) == (1, 1, 0.965926, 6.5, 2.12132)
    assert (p1.min_score, p1.max_score, p1.reviews, p1.missing, p1.disagreement) == (5, 8, 2, 0, False)
    # P2: (0 + 0.707107) / 2 = 0.353553; raw 5.5; sd |6-5|/sqrt(2) = 0.707107
    assert (p2.proposal_id, p2.rank, p2.normalised, p2.raw_mean, p2.sd) == (2, 2, 0.353553, 5.5, 0.707107)
    # P3: (-1.224745 - 1.414214) / 2 = -1.319479; raw 3.0
    assert (p3.proposal_id, p3.rank, p3.normalised, p3.raw_mean) == (3, 3, -1.319479, 3.0)
    a, b = ranking.reviewers
    assert (a.reviewer_id, a.reviews, a.mean, a.sd, a.flagged) == ("A", 3, 6.0, 1.632993, False)
    assert (b.reviewer_id, b.mean, b.sd, b.flagged) == ("B", 4.0, 1.414214, False)


def test_normalisation_corrects_a_harsh_reviewer():
    # A is harsh (scores 2 and 1), B generous (9 and 8): raw means tie at 5.5 for P1/P2... but
    # each reviewer preferred P1, so normalised P1 = (1 + 1)/2 = 1, P2 = (-1 - 1)/2 = -1.
    reviews = [r(1, "A", 2), r(2, "A", 1), r(1, "B", 9), r(2, "B", 8)]
    ranking = both(reviews)
    assert [(p.proposal_id, p.rank, p.normalised, p.raw_mean) for p in ranking.ranked] == [(1, 1, 1.0, 5.5), (2, 2, -1.0, 4.5)]


def test_ties_use_competition_ranking_and_unranked_are_listed():
    # Reviewer A: 9, 5, 5, 1 -> mean 5, sd sqrt((16+0+0+16)/4) = sqrt(8); z = 1.414214, 0, 0, -1.414214
    reviews = [r(1, "A", 9), r(2, "A", 5), r(3, "A", 5), r(4, "A", 1),
               r(5, "A", None),  # review row not submitted: proposal 5 is missing one review
               r(1, "B", 6)]  # B reviews once: z = 0 and B is flagged
    ranking = both(reviews, proposal_ids=[6])
    # P1: (1.414214 + 0) / 2 = 0.707107, raw (9 + 6) / 2 = 7.5; P2, P3: 0 and 5.0 (tied); P4: -1.414214
    assert [(p.proposal_id, p.rank, p.tied, p.normalised) for p in ranking.ranked] == [
        (1, 1, False, 0.707107), (2, 2, True, 0.0), (3, 2, True, 0.0), (4, 4, False, -1.414214)]
    assert [p.proposal_id for p in ranking.unranked] == [5, 6]
    five, six = ranking.unranked
    assert (five.rank, five.reviews, five.missing, five.normalised) == (None, 0, 1, None)
    assert (six.rank, six.reviews, six.missing) == (None, 0, 0)
    assert [(s.reviewer_id, s.flagged) for s in ranking.reviewers] == [("A", False), ("B", True)]


def test_raw_mean_breaks_equal_normalised_scores():
    # A: 8, 4 -> z +1, -1; B: 6, 2 -> z +1, -1. P1 and P3 both normalise to 1.0; raw 8 beats 6.
    reviews = [r(1, "A", 8), r(2, "A", 4), r(3, "B", 6), r(4, "B", 2)]
    ranking = both(reviews)
    assert [(p.proposal_id, p.rank, p.normalised, p.raw_mean, p.tied) for p in ranking.ranked] == [
        (1, 1, 1.0, 8.0, False), (3, 2, 1.0, 6.0, False), (2, 3, -1.0, 4.0, False), (4, 4, -1.0, 2.0, False)]


def test_flagged_reviewers_get_zero_z():
    # C gives everything 7 (sd = 0): both z = 0. D reviews once: z = 0.
    reviews = [r(1, "C", 7), r(2, "C", 7), r(1, "D", 3)]
    ranking = both(reviews)
    assert all(p.normalised == 0.0 for p in ranking.ranked)
    # Proposal 1 raw (7+3)/2 = 5 < proposal 2 raw 7: raw mean orders them.
    assert [(p.proposal_id, p.rank) for p in ranking.ranked] == [(2, 1), (1, 2)]
    assert [(s.reviewer_id, s.sd, s.flagged) for s in ranking.reviewers] == [("C", 0.0, True), ("D", 0.0, True)]


def test_disagreement_flag_at_four_points():
    reviews = [r(1, "A", 3), r(1, "B", 7), r(2, "A", 3), r(2, "B", 6), r(3, "A", 5)]
    by_id = {p.proposal_id: p for p in both(reviews).ranked}
    assert by_id[1].disagreement  # 7 - 3 = 4 points
    assert not by_id[2].disagreement  # 6 - 3 = 3 points
    assert not by_id[3].disagreement and by_id[3].sd is None  # one review: no spread


def test_empty_round():
    ranking = both([])
    assert ranking.ranked == () and ranking.unranked == () and ranking.reviewers == ()
    assert rank_arrays([], [], []).ranked == ()


# -- the oracle: vectorised == row by row ---------------------------------------------------


@st.composite
def rounds(draw):
    criteria = draw(st.integers(1, 4))
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=criteria - 1, max_size=criteria - 1)))
    bounds = [0, *cuts, 100]
    weights = {f"k{i}": bounds[i + 1] - bounds[i] for i in range(criteria)}
    # A small score domain forces ties; a large one exercises the arithmetic.
    domain = draw(st.sampled_from([[0, 5, 10], list(range(11))]))
    ids = draw(st.sampled_from(["int", "str"]))
    n_proposals = draw(st.integers(1, 15))
    n_reviewers = draw(st.integers(1, 6))
    reviews = []
    for p in range(n_proposals):
        for reviewer in draw(st.lists(st.integers(0, n_reviewers - 1), unique=True, max_size=n_reviewers)):
            if draw(st.integers(0, 9)) == 0:
                scores = None
            else:
                scores = {c: draw(st.sampled_from(domain)) for c in weights}
                if len(weights) > 1 and draw(st.integers(0, 19)) == 0:
                    scores.pop("k0")  # incomplete
            pid = p if ids == "int" else f"p{p:02d}"
            reviews.append(ReviewScores(pid, f"r{reviewer}", scores))
    draw(st.randoms()).shuffle(reviews)
    return reviews, weights


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_vectorised_equals_baseline(data):
    reviews, weights = data
    fast = rank_proposals(reviews, weights)
    slow = rank_proposals_baseline(reviews, weights)
    assert fast == slow
    # Ranks are competition ranks: 1, then position+1 after each change of key.
    for i, p in enumerate(fast.ranked):
        if i and (p.normalised, p.raw_mean) == (fast.ranked[i - 1].normalised, fast.ranked[i - 1].raw_mean):
            assert p.rank == fast.ranked[i - 1].rank and p.tied
        else:
            assert p.rank == i + 1
    assert all(p.missing or not p.reviews for p in fast.unranked)


# -- Krippendorff's alpha -------------------------------------------------------------------

_ = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units,
# with missing values. Published: nominal .743, ordinal .815, interval .849, ratio .797.
PAPER = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    "C": [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
}


def test_alpha_worked_example_from_the_paper():
    units = list(zip(*PAPER.values(), strict=True))
    assert round(krippendorff_alpha_interval(units), 3) == 0.849


def test_alpha_small_example_by_hand():
    # Units {1,3}, {2,2}, {4,5}.
    # D_o numerator: sum over units of sum_{i != j} (v_i - v_j)^2 / (m_u - 1) = (2*4)/1 + 0 + (2*1)/1 = 10
    # All 6 values 1,3,2,2,4,5: sum 17, sum of squares 59; sum_{i,j} (v_i - v_j)^2 = 2*6*59 - 2*17^2 = 130
    # alpha = 1 - (n - 1) * 10 / 130 = 1 - 5 * 10 / 130 = 80/130 = 0.615385
    assert krippendorff_alpha_interval([[1, 3], [2, 2], [4, 5]]) == pytest.approx(80 / 130)


def test_alpha_systematic_disagreement_is_negative():
    # Units {1,2}, {2,1}: D_o numerator 2 + 2 = 4; values 1,2,2,1: 2*4*10 - 2*36 = 8; 1 - 3*4/8 = -0.5
    assert krippendorff_alpha_interval([[1, 2], [2, 1]]) == pytest.approx(-0.5)


def test_alpha_trivial_cases():
    assert krippendorff_alpha_interval([[1, 1, 1], [5, 5], [7, 7, None]]) == 1.0  # perfect agreement
    assert krippendorff_alpha_interval([[3, 3], [3, 3]]) is None  # no variation: undefined
    assert krippendorff_alpha_interval([[1], [2, None], []]) is None  # nothing pairable
    # Lone values do not count: adding unit [9] changes nothing.
    assert krippendorff_alpha_interval([[1, 3], [2, 2], [4, 5], [9]]) == pytest.approx(80 / 130)


def test_icc_by_hand():
    # Units {1,3}, {2,2}, {4,5}: k = 2, n = 3, unit means 2, 2, 4.5, grand mean 17/6
    # MSB = 2 * ((2 - 17/6)^2 * 2 + (4.5 - 17/6)^2) / 2 = (25/36 * 2 + 100/36) = 150/36 = 4.166667
    # MSW = ((1-2)^2 + (3-2)^2 + 0 + 0 + (4-4.5)^2 + (5-4.5)^2) / (3 * 1) = 2.5 / 3 = 0.833333
    # ICC(1,1) = (4.166667 - 0.833333) / (4.166667 + 0.833333) = 3.333333 / 5 = 0.666667
    # ICC(1,k) = 3.333333 / 4.166667 = 0.8
    icc1, icck = icc_one_way([[1, 3], [2, 2], [4, 5, None]])
    assert icc1 == pytest.approx(2 / 3)
    assert icck == pytest.approx(0.8)
    assert icc_one_way([[1, 1], [4, 4]]) == (1.0, 1.0)  # perfect agreement
    assert icc_one_way([[3, 3], [3, 3]]) is None  # no variation between units
    with pytest.raises(ValueError):
        icc_one_way([[1, 2], [1, 2, 3]])


def test_reviews_alpha_uses_weighted_scores_of_complete_reviews():
    reviews = [r(1, "A", 1), r(1, "B", 3), r(2, "A", 2), r(2, "B", 2), r(3, "A", 4), r(3, "B", 5),
               r(3, "C", None), r(4, "A", 9)]
    assert reviews_alpha(reviews, ONE) == pytest.approx(80 / 130)


# -- the SQL version, on SQLite and PostgreSQL ----------------------------------------------


def _load_tables(reviews, weights):
    """Temporary tables shaped like reviews / scores / criteria; returns ranking_sql for them."""
    session = db.session
    session.execute(sa.text("CREATE TEMPORARY TABLE t_reviews (id INTEGER PRIMARY KEY, proposal_id VARCHAR(20), "
                            "reviewer_id VARCHAR(20))"))
    session.execute(sa.text("CREATE TEMPORARY TABLE t_scores (review_id INTEGER, criterion_id INTEGER, score INTEGER)"))
    session.execute(sa.text("CREATE TEMPORARY TABLE t_criteria (id INTEGER PRIMARY KEY, weight INTEGER)"))
    criterion_ids = {c: i for i, c in enumerate(sorted(weights), start=1)}
    session.execute(sa.text("INSERT INTO t_criteria (id, weight) VALUES (:id, :weight)"),
                    [{"id": criterion_ids[c], "weight": w} for c, w in weights.items()])
    review_rows, score_rows = [], []
    for review_id, review in enumerate(reviews, start=1):
        review_rows.append({"id": review_id, "p": review.proposal_id, "r": review.reviewer_id})
        for c, score in (review.scores or {}).items():
            score_rows.append({"rid": review_id, "cid": criterion_ids[c], "s": score})
    if review_rows:
        session.execute(sa.text("INSERT INTO t_reviews (id, proposal_id, reviewer_id) VALUES (:id, :p, :r)"), review_rows)
    if score_rows:
        session.execute(sa.text("INSERT INTO t_scores (review_id, criterion_id, score) VALUES (:rid, :cid, :s)"),
                        score_rows)
    # Scores of another rubric must not leak in: only criteria in the criteria relation count.
    session.execute(sa.text("INSERT INTO t_scores (review_id, criterion_id, score) VALUES (1, 999, 10)"))
    return ranking_sql("t_reviews", "t_scores", "(SELECT id, weight FROM t_criteria WHERE weight >= 0)")


def _drop_tables():
    for table in ("t_reviews", "t_scores", "t_criteria"):
        db.session.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))


def test_ranking_sql_matches_python(app):
    rng = random.Random(11)
    weights = {"a": 40, "b": 35, "c": 25}
    reviews = []
    for p in range(60):
        for reviewer in rng.sample(range(12), rng.randint(1, 4)):
            scores = {c: rng.choice([0, 3, 5, 7, 10]) for c in weights}  # coarse scores: ties happen
            if rng.random() < 0.05:
                scores = None
            elif rng.random() < 0.05:
                del scores["a"]
            reviews.append(ReviewScores(f"p{p:03d}", f"r{reviewer:02d}", scores))
    try:
        sql = _load_tables(reviews, weights)
        rows = db.session.execute(sa.text(sql)).all()
    finally:
        _drop_tables()
    ranked, unranked = ranking_from_rows(rows)
    expected = rank_proposals_baseline(reviews, weights)
    assert any(p.tied for p in expected.ranked) and expected.unranked  # the data exercises ties and gaps
    assert ranked == expected.ranked
    assert unranked == expected.unranked


def test_ranking_sql_hand_example(app):
    reviews = [r(1, "A", 8), r(2, "A", 6), r(3, "A", 4), r(1, "B", 5), r(2, "B", 5), r(3, "B", 2), r(4, "B", None)]
    reviews = [ReviewScores(str(x.proposal_id), x.reviewer_id, x.scores) for x in reviews]
    try:
        rows = db.session.execute(sa.text(_load_tables(reviews, ONE))).all()
    finally:
        _drop_tables()
    ranked, unranked = ranking_from_rows(rows)
    assert [(p.proposal_id, p.rank, p.normalised, p.raw_mean) for p in ranked] == [
        ("1", 1, 0.965926, 6.5), ("2", 2, 0.353553, 5.5), ("3", 3, -1.319479, 3.0)]
    assert unranked == (ProposalStats("4", None, None, None, None, None, None, 0, 1, False, False),)


@pytest.mark.parametrize("relation", ["reviews; DROP TABLE users", "a b", "(SELECT 1) x", ""])
def test_ranking_sql_refuses_odd_relations(relation):
    with pytest.raises(ValueError):
        ranking_sql(reviews=relation)


def test_ranking_sql_from_stored_totals(app):
    # The same hand example, with each review's weighted total stored on the review row.
    db.session.execute(sa.text("CREATE TEMPORARY TABLE t_totals (id INTEGER PRIMARY KEY, proposal_id INTEGER, "
                               "reviewer_id INTEGER, points INTEGER)"))
    try:
        db.session.execute(sa.text("INSERT INTO t_totals VALUES (:id, :p, :r, :w)"), [
            {"id": 1, "p": 1, "r": 1, "w": 800}, {"id": 2, "p": 2, "r": 1, "w": 600}, {"id": 3, "p": 3, "r": 1, "w": 400},
            {"id": 4, "p": 1, "r": 2, "w": 500}, {"id": 5, "p": 2, "r": 2, "w": 500}, {"id": 6, "p": 3, "r": 2, "w": 200},
            {"id": 7, "p": 4, "r": 2, "w": None},
        ])
        sql = ranking_sql("t_totals", "no_such_table", "no_such_table", points_column="points")
        ranked, unranked = ranking_from_rows(db.session.execute(sa.text(sql)).all())
    finally:
        db.session.execute(sa.text("DROP TABLE IF EXISTS t_totals"))
    assert [(p.proposal_id, p.rank, p.normalised, p.raw_mean) for p in ranked] == [
        (1, 1, 0.965926, 6.5), (2, 2, 0.353553, 5.5), (3, 3, -1.319479, 3.0)]
    assert [(p.proposal_id, p.missing) for p in unranked] == [(4, 1)]
    with pytest.raises(ValueError):
        ranking_sql(points_column="points; --")
