"""payroll: employees, loans, salary structures, runs, payslips, payments (net pay held per
employee) and releases.

Revision ID: 0400_payroll
Revises: 0300_devices
Create Date: 2026-11-22

The unique index ``uq_payroll_payments_employee_period_live`` is the database's own guarantee of
one payment per employee per pay period (reversed payments of a cancelled run do not count), and
``ck_payroll_runs_four_eyes`` refuses a run approved by the user who submitted it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0400_payroll"
down_revision: str | None = "0300_devices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payroll_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=200), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'computed', 'submitted', 'approved', 'posting', 'posted', 'cancelled')",
            name=op.f("ck_payroll_runs_known_status"),
        ),
        sa.CheckConstraint(
            "approved_by IS NULL OR approved_by <> submitted_by",
            name=op.f("ck_payroll_runs_four_eyes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_runs")),
    )
    op.create_index("ix_payroll_runs_period", "payroll_runs", ["period"], unique=False)
    op.create_table(
        "payroll_structures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("grade", sa.String(length=40), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_structures")),
        sa.UniqueConstraint(
            "grade", "effective_from", name=op.f("uq_payroll_structures_grade_effective_from")
        ),
    )
    op.create_table(
        "payroll_employees",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("employee_number", sa.String(length=40), nullable=False),
        sa.Column("name_latin", sa.String(length=200), nullable=False),
        sa.Column("name_arabic", sa.String(length=200), nullable=False),
        sa.Column("national_id", sa.String(length=20), nullable=False),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("grade", sa.String(length=40), nullable=False),
        sa.Column("pay_point", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("account_scheme", sa.String(length=10), nullable=True),
        sa.Column("account_number", sa.String(length=40), nullable=True),
        sa.Column("subject_id", sa.String(length=36), nullable=True),
        sa.Column("base_salary", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'left')",
            name=op.f("ck_payroll_employees_known_status"),
        ),
        sa.CheckConstraint(
            "(account_scheme IS NULL) = (account_number IS NULL)",
            name=op.f("ck_payroll_employees_account_complete"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["bio_persons.id"],
            name=op.f("fk_payroll_employees_subject_id_bio_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_employees")),
        sa.UniqueConstraint("employee_number", name=op.f("uq_payroll_employees_employee_number")),
    )
    op.create_index(
        op.f("ix_payroll_employees_national_id"), "payroll_employees", ["national_id"], unique=False
    )
    op.create_index(
        op.f("ix_payroll_employees_pay_point"), "payroll_employees", ["pay_point"], unique=False
    )
    op.create_index(
        op.f("ix_payroll_employees_subject_id"), "payroll_employees", ["subject_id"], unique=False
    )
    op.create_table(
        "payroll_loans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("instalment", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("instalment > 0", name=op.f("ck_payroll_loans_instalment_positive")),
        sa.CheckConstraint("remaining >= 0", name=op.f("ck_payroll_loans_remaining_not_negative")),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["payroll_employees.id"],
            name=op.f("fk_payroll_loans_employee_id_payroll_employees"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_loans")),
        sa.UniqueConstraint(
            "employee_id", "reference", name=op.f("uq_payroll_loans_employee_id_reference")
        ),
    )
    op.create_table(
        "payroll_payslips",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("gross", sa.BigInteger(), nullable=False),
        sa.Column("deductions", sa.BigInteger(), nullable=False),
        sa.Column("employer_contributions", sa.BigInteger(), nullable=False),
        sa.Column("net", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.Column("payable", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["payroll_employees.id"],
            name=op.f("fk_payroll_payslips_employee_id_payroll_employees"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["payroll_runs.id"], name=op.f("fk_payroll_payslips_run_id_payroll_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_payslips")),
        sa.UniqueConstraint(
            "run_id", "employee_id", name=op.f("uq_payroll_payslips_run_id_employee_id")
        ),
    )
    op.create_index(
        op.f("ix_payroll_payslips_employee_id"), "payroll_payslips", ["employee_id"], unique=False
    )
    op.create_table(
        "payroll_payments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "net_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reversal_transaction_id", sa.Uuid(), nullable=True),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'released', 'reversed')",
            name=op.f("ck_payroll_payments_known_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payroll_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["payroll_employees.id"],
            name=op.f("fk_payroll_payments_employee_id_payroll_employees"),
        ),
        sa.ForeignKeyConstraint(
            ["net_account_id"],
            ["pay_accounts.id"],
            name=op.f("fk_payroll_payments_net_account_id_pay_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["reversal_transaction_id"],
            ["pay_transactions.id"],
            name=op.f("fk_payroll_payments_reversal_transaction_id_pay_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["payroll_runs.id"], name=op.f("fk_payroll_payments_run_id_payroll_runs")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["pay_transactions.id"],
            name=op.f("fk_payroll_payments_transaction_id_pay_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_payments")),
        sa.UniqueConstraint(
            "run_id", "employee_id", name=op.f("uq_payroll_payments_run_id_employee_id")
        ),
    )
    op.create_index(
        "uq_payroll_payments_employee_period_live",
        "payroll_payments",
        ["employee_id", "period"],
        unique=True,
        postgresql_where=sa.text("status <> 'reversed'"),
        sqlite_where=sa.text("status <> 'reversed'"),
    )
    op.create_table(
        "payroll_releases",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "employee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=True),
        sa.Column("released_by", sa.String(length=200), nullable=False),
        sa.Column("supervisor_override_reason", sa.String(length=500), nullable=True),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "channel IN ('wallet', 'cash')", name=op.f("ck_payroll_releases_known_channel")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payroll_releases_amount_positive")),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["payroll_employees.id"],
            name=op.f("fk_payroll_releases_employee_id_payroll_employees"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payroll_payments.id"],
            name=op.f("fk_payroll_releases_payment_id_payroll_payments"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["payroll_runs.id"], name=op.f("fk_payroll_releases_run_id_payroll_runs")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["pay_transactions.id"],
            name=op.f("fk_payroll_releases_transaction_id_pay_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payroll_releases")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payroll_releases_payment_id")),
    )
    op.create_index(
        "ix_payroll_releases_employee_id_released_at",
        "payroll_releases",
        ["employee_id", "released_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_payroll_releases_employee_id_released_at", table_name="payroll_releases")
    op.drop_table("payroll_releases")
    op.drop_index(
        "uq_payroll_payments_employee_period_live",
        table_name="payroll_payments",
        postgresql_where=sa.text("status <> 'reversed'"),
        sqlite_where=sa.text("status <> 'reversed'"),
    )
    op.drop_table("payroll_payments")
    op.drop_index(op.f("ix_payroll_payslips_employee_id"), table_name="payroll_payslips")
    op.drop_table("payroll_payslips")
    op.drop_table("payroll_loans")
    op.drop_index(op.f("ix_payroll_employees_subject_id"), table_name="payroll_employees")
    op.drop_index(op.f("ix_payroll_employees_pay_point"), table_name="payroll_employees")
    op.drop_index(op.f("ix_payroll_employees_national_id"), table_name="payroll_employees")
    op.drop_table("payroll_employees")
    op.drop_table("payroll_structures")
    op.drop_index("ix_payroll_runs_period", table_name="payroll_runs")
    op.drop_table("payroll_runs")
