"""payments: the ledger's commit-time balance check runs once per ledger transaction instead of
once per posting (PostgreSQL; SQLite has no such check and is unchanged).

Before, each posting row queued ``pay_postings_balanced_at_commit``, a GROUP BY over its
transaction's postings at COMMIT: a transfer's three postings made three identical checks. Now
the deferred constraint trigger sits on ``pay_transactions``, one header row per ledger
transaction, and checks that transaction's postings once. It covers the same postings: a posting
must have its header by COMMIT (deferred foreign key) and cannot join a transaction whose header
is in (sealed, ``pay_posting_apply``), so every posting a transaction inserts belongs to a header
inserted later in that same transaction, whose check sees all of its postings. The header's own
insert trigger (``pay_transaction_seal``) still checks the balance when the header goes in.

Revision ID: 0440_payments_commit_check
Revises: 0430_staff_language
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0440_payments_commit_check"
down_revision: str | None = "0430_staff_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLSTATE 23000 so drivers raise IntegrityError, as in 0200_payments.
_PG_RAISE = "USING ERRCODE = 'integrity_constraint_violation'"

_UPGRADE = f"""
DROP TRIGGER pay_postings_balanced_at_commit ON pay_postings;

CREATE FUNCTION pay_transaction_balanced_at_commit() RETURNS trigger AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pay_postings WHERE transaction_id = NEW.id
        GROUP BY currency HAVING sum(amount) <> 0
    ) THEN
        RAISE EXCEPTION 'ledger transaction % does not balance at commit', NEW.id {_PG_RAISE};
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER pay_transactions_balanced_at_commit AFTER INSERT ON pay_transactions
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION pay_transaction_balanced_at_commit();
"""

# As 0200_payments made it (its function pay_posting_balanced_at_commit was kept).
_DOWNGRADE = """
DROP TRIGGER pay_transactions_balanced_at_commit ON pay_transactions;
DROP FUNCTION pay_transaction_balanced_at_commit;

CREATE CONSTRAINT TRIGGER pay_postings_balanced_at_commit AFTER INSERT ON pay_postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION pay_posting_balanced_at_commit();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_UPGRADE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DOWNGRADE)
