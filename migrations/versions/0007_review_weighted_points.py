"""review: each review's weighted total stored on the review row (reviews.weighted_points)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 06:00:00.000000

`weighted_points` is ``sum(score * weight)`` over the challenge's rubric, in hundredths of a
point (0..1000), for submitted reviews of scoring and shortlist rounds that score every
criterion; NULL otherwise (drafts, eligibility reviews). The upgrade fills it for existing
reviews with the same rule `services.save_review` applies from now on.
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

CHECK = "weighted_points IS NULL OR (status = 'submitted' AND weighted_points >= 0)"

# One set-based UPDATE ... FROM (PostgreSQL, and SQLite >= 3.33): a review's total counts only
# when every criterion of its challenge's rubric is scored.
BACKFILL = """
UPDATE reviews SET weighted_points = t.points
FROM (
    SELECT r.id AS review_id, SUM(s.score * c.weight) AS points
    FROM reviews r
    JOIN review_assignments a ON a.id = r.assignment_id
    JOIN review_rounds rr ON rr.id = a.round_id
    JOIN review_scores s ON s.review_id = r.id
    JOIN challenge_criteria c ON c.id = s.criterion_id AND c.challenge_id = rr.challenge_id
    JOIN (SELECT challenge_id, COUNT(*) AS n FROM challenge_criteria GROUP BY challenge_id) rubric
      ON rubric.challenge_id = rr.challenge_id
    WHERE r.status = 'submitted' AND rr.kind IN ('scoring', 'shortlist')
    GROUP BY r.id
    HAVING COUNT(*) = MAX(rubric.n)
) t
WHERE t.review_id = reviews.id
"""


def upgrade():
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('weighted_points', sa.Integer(), nullable=True))
    op.execute(BACKFILL)
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_check_constraint(batch_op.f('ck_reviews_weighted_points_when_submitted'), CHECK)


def downgrade():
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_reviews_weighted_points_when_submitted'), type_='check')
        batch_op.drop_column('weighted_points')
