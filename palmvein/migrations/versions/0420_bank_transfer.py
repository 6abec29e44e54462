"""payroll: each salary's pay channel (bank or pay point) and its settlement by the bank file.

A salary posted for an employee with a bank or postal account is paid by the bank transfer file
(``channel = 'bank'``); it moves from the held account to bank clearing when the file is
produced (``status = 'transferred'``, with the ledger transaction, who and when). A pay-point
salary is released at the pay point. CHECKs refuse a bank salary released at a pay point and a
pay-point salary transferred, so no salary is paid both ways.

Existing payments: released ones were paid at a pay point; held ones follow the employee's
account as it is now (an account: bank).

Revision ID: 0420_bank_transfer
Revises: 0410_paypoint
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0420_bank_transfer"
down_revision: str | None = "0410_paypoint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_OUTCOMES = (
    "'released', 'no_match', 'ambiguous', 'wrong_person', 'not_enrolled', 'nothing_held', "
    "'wrong_pay_point'"
)
_NEW_OUTCOMES = _OLD_OUTCOMES + ", 'paid_by_bank'"
_TRANSFERRED_BY_BANK = (
    "status <> 'transferred' OR (channel = 'bank' AND transfer_transaction_id IS NOT NULL"
    " AND transferred_at IS NOT NULL AND transferred_by IS NOT NULL)"
)


def upgrade() -> None:
    with op.batch_alter_table("payroll_payments") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("transfer_transaction_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("transferred_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("transferred_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("transfer_reference", sa.String(length=35), nullable=True))
        batch.alter_column(
            "status", existing_type=sa.String(length=10), type_=sa.String(length=12),
            existing_nullable=False,
        )  # fmt: skip
    op.execute(
        "UPDATE payroll_payments SET channel = CASE "
        "WHEN status = 'released' THEN 'pay_point' "
        "WHEN EXISTS (SELECT 1 FROM payroll_employees e WHERE e.id = payroll_payments.employee_id "
        "AND e.account_number IS NOT NULL) THEN 'bank' "
        "ELSE 'pay_point' END"
    )
    with op.batch_alter_table("payroll_payments") as batch:
        batch.alter_column("channel", existing_type=sa.String(length=10), nullable=False)
        batch.drop_constraint(op.f("ck_payroll_payments_known_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_payroll_payments_known_status"),
            "status IN ('held', 'released', 'transferred', 'reversed')",
        )
        batch.create_check_constraint(
            op.f("ck_payroll_payments_known_channel"), "channel IN ('bank', 'pay_point')"
        )
        batch.create_check_constraint(
            op.f("ck_payroll_payments_released_at_pay_point"),
            "status <> 'released' OR channel = 'pay_point'",
        )
        batch.create_check_constraint(
            op.f("ck_payroll_payments_transferred_by_bank"), _TRANSFERRED_BY_BANK
        )
        batch.create_foreign_key(
            op.f("fk_payroll_payments_transfer_transaction_id_pay_transactions"),
            "pay_transactions",
            ["transfer_transaction_id"],
            ["id"],
        )
    with op.batch_alter_table("payroll_release_attempts") as batch:
        batch.drop_constraint(op.f("ck_payroll_release_attempts_known_outcome"), type_="check")
        batch.create_check_constraint(
            op.f("ck_payroll_release_attempts_known_outcome"), f"outcome IN ({_NEW_OUTCOMES})"
        )


def downgrade() -> None:
    with op.batch_alter_table("payroll_release_attempts") as batch:
        batch.drop_constraint(op.f("ck_payroll_release_attempts_known_outcome"), type_="check")
        batch.create_check_constraint(
            op.f("ck_payroll_release_attempts_known_outcome"), f"outcome IN ({_OLD_OUTCOMES})"
        )
    with op.batch_alter_table("payroll_payments") as batch:
        batch.drop_constraint(
            op.f("fk_payroll_payments_transfer_transaction_id_pay_transactions"), type_="foreignkey"
        )
        batch.drop_constraint(op.f("ck_payroll_payments_transferred_by_bank"), type_="check")
        batch.drop_constraint(op.f("ck_payroll_payments_released_at_pay_point"), type_="check")
        batch.drop_constraint(op.f("ck_payroll_payments_known_channel"), type_="check")
        batch.drop_constraint(op.f("ck_payroll_payments_known_status"), type_="check")
        batch.create_check_constraint(
            op.f("ck_payroll_payments_known_status"), "status IN ('held', 'released', 'reversed')"
        )
        batch.drop_column("transfer_reference")
        batch.drop_column("transferred_by")
        batch.drop_column("transferred_at")
        batch.drop_column("transfer_transaction_id")
        batch.drop_column("channel")
        batch.alter_column(
            "status", existing_type=sa.String(length=12), type_=sa.String(length=10),
            existing_nullable=False,
        )  # fmt: skip
