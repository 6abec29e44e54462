"""payroll: every palm presented at a pay point to claim a salary (release attempts).

Revision ID: 0410_paypoint
Revises: 0400_payroll
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0410_paypoint"
down_revision: str | None = "0400_payroll"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OUTCOMES = (
    "'released', 'no_match', 'ambiguous', 'wrong_person', 'not_enrolled', 'nothing_held', "
    "'wrong_pay_point'"
)


def upgrade() -> None:
    op.create_table(
        "payroll_release_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("pay_point", sa.String(length=40), nullable=False),
        sa.Column("cashier", sa.String(length=200), nullable=False),
        sa.Column(
            "claimed_employee_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("matched_subject_id", sa.String(length=36), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("score", sa.String(length=12), nullable=True),
        sa.Column("threshold", sa.String(length=12), nullable=True),
        sa.Column("releases", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            f"outcome IN ({_OUTCOMES})", name=op.f("ck_payroll_release_attempts_known_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["claimed_employee_id"],
            ["payroll_employees.id"],
            name=op.f("fk_payroll_release_attempts_claimed_employee_id_payroll_employees"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_release_attempts")),
    )
    op.create_index(
        "ix_payroll_release_attempts_claimed_at",
        "payroll_release_attempts",
        ["claimed_employee_id", "at"],
    )


def downgrade() -> None:
    op.drop_index("ix_payroll_release_attempts_claimed_at", table_name="payroll_release_attempts")
    op.drop_table("payroll_release_attempts")
