"""matcher: impostor score distributions measured on the site's own enrolled palms.

``bio_calibrations`` rows are only added; the newest of the current algorithm and comparator
tightens the shipped (simulated) thresholds (``palmvein calibrate run``).

Revision ID: 0450_site_calibration
Revises: 0440_payments_commit_check
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0450_site_calibration"
down_revision: str | None = "0440_payments_commit_check"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bio_calibrations",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("algorithm", sa.String(40), nullable=False),
        sa.Column("comparator", sa.String(100), nullable=False),
        sa.Column("owners", sa.Integer(), nullable=False),
        sa.Column("templates", sa.Integer(), nullable=False),
        sa.Column("pairs", sa.BigInteger(), nullable=False),
        sa.Column("distribution", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.CheckConstraint(
            "owners >= 2 AND templates >= owners AND pairs >= 1",
            name=op.f("ck_bio_calibrations_counts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bio_calibrations")),
    )


def downgrade() -> None:
    op.drop_table("bio_calibrations")
