"""payments: ledger (accounts, transactions, postings, holds), idempotency keys, operations,
billers, notification outbox; triggers that make the ledger's invariants the database's own.

Revision ID: 0200_payments
Revises: 0100_matcher
Create Date: 2026-11-22

Invariants enforced here, on both PostgreSQL and SQLite unless said otherwise:

- postings and ledger transactions are append-only (UPDATE, DELETE and, on PostgreSQL, TRUNCATE
  raise); holds cannot be deleted and leave ``pending`` at most once;
- postings are written first and their transaction header last: inserting the header checks
  that the postings (at least two) sum to zero per currency, and seals the set (later postings
  for it are refused). The postings' foreign key to the header is deferred, so postings without a
  header cannot be committed. PostgreSQL checks the balance once more at COMMIT with a deferred
  constraint trigger;
- ``pay_accounts.balance`` is the sum of the account's postings and ``held`` the sum of its
  pending holds, both maintained by triggers; a new account starts at zero; a CHECK keeps
  ``balance - held >= 0`` unless ``may_go_negative``;
- PostgreSQL only: UPDATE of ``balance`` or ``held`` other than from those triggers is refused
  (``pg_trigger_depth()``). SQLite has no way to tell a trigger's UPDATE from a direct one, so
  there a direct UPDATE of those columns is possible; ``payments.ledger.verify_ledger`` detects it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0200_payments"
down_revision: str | None = "0100_matcher"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLSTATE 23000 so drivers raise IntegrityError, like a violated CHECK.
_PG_RAISE = "USING ERRCODE = 'integrity_constraint_violation'"

_PG_FUNCTIONS = f"""
CREATE FUNCTION pay_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only; correct it with a new transaction', TG_TABLE_NAME
        {_PG_RAISE};
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION pay_transaction_seal() RETURNS trigger AS $$
DECLARE
    n integer;
    unbalanced text;
BEGIN
    SELECT count(*) INTO n FROM pay_postings WHERE transaction_id = NEW.id;
    IF n < 2 THEN
        RAISE EXCEPTION 'ledger transaction % has % posting(s); at least two are needed', NEW.id, n
            {_PG_RAISE};
    END IF;
    SELECT string_agg(currency || ' ' || total, ', ') INTO unbalanced FROM (
        SELECT currency, sum(amount) AS total FROM pay_postings
        WHERE transaction_id = NEW.id GROUP BY currency HAVING sum(amount) <> 0
    ) AS off;
    IF unbalanced IS NOT NULL THEN
        RAISE EXCEPTION 'ledger transaction % does not balance: %', NEW.id, unbalanced
            {_PG_RAISE};
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION pay_posting_apply() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pay_transactions WHERE id = NEW.transaction_id) THEN
        RAISE EXCEPTION 'ledger transaction % is sealed; postings cannot be added to it',
            NEW.transaction_id {_PG_RAISE};
    END IF;
    UPDATE pay_accounts SET balance = balance + NEW.amount WHERE id = NEW.account_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION pay_posting_balanced_at_commit() RETURNS trigger AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pay_postings WHERE transaction_id = NEW.transaction_id
        GROUP BY currency HAVING sum(amount) <> 0
    ) THEN
        RAISE EXCEPTION 'ledger transaction % does not balance at commit', NEW.transaction_id
            {_PG_RAISE};
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION pay_account_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.balance <> 0 OR NEW.held <> 0 THEN
            RAISE EXCEPTION 'a new account starts with zero balance; fund it with postings'
                {_PG_RAISE};
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.id <> OLD.id OR NEW.currency <> OLD.currency THEN
        RAISE EXCEPTION 'account % cannot change its id or currency', OLD.id {_PG_RAISE};
    END IF;
    IF pg_trigger_depth() = 1
       AND (NEW.balance <> OLD.balance OR NEW.held <> OLD.held) THEN
        RAISE EXCEPTION 'balance and held of account % change only through postings and holds',
            OLD.id {_PG_RAISE};
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION pay_hold_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'holds cannot be deleted; void them' {_PG_RAISE};
    END IF;
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'pending' THEN
            RAISE EXCEPTION 'a hold starts pending' {_PG_RAISE};
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status <> 'pending' THEN
        RAISE EXCEPTION 'hold % is already %', OLD.id, OLD.status {_PG_RAISE};
    END IF;
    IF NEW.id <> OLD.id OR NEW.amount <> OLD.amount OR NEW.account_id <> OLD.account_id
       OR NEW.credit_account_id <> OLD.credit_account_id OR NEW.currency <> OLD.currency THEN
        RAISE EXCEPTION 'hold % can only change its status', OLD.id {_PG_RAISE};
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION pay_hold_apply() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE pay_accounts SET held = held + NEW.amount WHERE id = NEW.account_id;
    ELSIF OLD.status = 'pending' AND NEW.status <> 'pending' THEN
        UPDATE pay_accounts SET held = held - OLD.amount WHERE id = OLD.account_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

_PG_TRIGGERS = """
CREATE TRIGGER pay_postings_append_only BEFORE UPDATE OR DELETE ON pay_postings
    FOR EACH ROW EXECUTE FUNCTION pay_append_only();
CREATE TRIGGER pay_postings_no_truncate BEFORE TRUNCATE ON pay_postings
    FOR EACH STATEMENT EXECUTE FUNCTION pay_append_only();
CREATE TRIGGER pay_transactions_append_only BEFORE UPDATE OR DELETE ON pay_transactions
    FOR EACH ROW EXECUTE FUNCTION pay_append_only();
CREATE TRIGGER pay_transactions_no_truncate BEFORE TRUNCATE ON pay_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION pay_append_only();
CREATE TRIGGER pay_holds_no_truncate BEFORE TRUNCATE ON pay_holds
    FOR EACH STATEMENT EXECUTE FUNCTION pay_append_only();
CREATE TRIGGER pay_transactions_seal BEFORE INSERT ON pay_transactions
    FOR EACH ROW EXECUTE FUNCTION pay_transaction_seal();
CREATE TRIGGER pay_postings_apply AFTER INSERT ON pay_postings
    FOR EACH ROW EXECUTE FUNCTION pay_posting_apply();
CREATE CONSTRAINT TRIGGER pay_postings_balanced_at_commit AFTER INSERT ON pay_postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION pay_posting_balanced_at_commit();
CREATE TRIGGER pay_accounts_guard BEFORE INSERT OR UPDATE ON pay_accounts
    FOR EACH ROW EXECUTE FUNCTION pay_account_guard();
CREATE TRIGGER pay_holds_guard BEFORE INSERT OR UPDATE OR DELETE ON pay_holds
    FOR EACH ROW EXECUTE FUNCTION pay_hold_guard();
CREATE TRIGGER pay_holds_apply AFTER INSERT OR UPDATE ON pay_holds
    FOR EACH ROW EXECUTE FUNCTION pay_hold_apply();
"""

_PG_DROP_FUNCTIONS = """
DROP FUNCTION IF EXISTS pay_append_only, pay_transaction_seal, pay_posting_apply,
    pay_posting_balanced_at_commit, pay_account_guard, pay_hold_guard, pay_hold_apply;
"""


def _sqlite_abort(table: str, event: str, name: str, message: str, when: str = "") -> str:
    condition = f" WHEN {when}" if when else ""
    return (
        f"CREATE TRIGGER {name} BEFORE {event} ON {table}{condition} "
        f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
    )


_SQLITE_TRIGGERS = (
    _sqlite_abort(
        "pay_postings", "UPDATE", "pay_postings_no_update", "pay_postings is append-only"
    ),
    _sqlite_abort(
        "pay_postings", "DELETE", "pay_postings_no_delete", "pay_postings is append-only"
    ),
    _sqlite_abort(
        "pay_transactions",
        "UPDATE",
        "pay_transactions_no_update",
        "pay_transactions is append-only",
    ),
    _sqlite_abort(
        "pay_transactions",
        "DELETE",
        "pay_transactions_no_delete",
        "pay_transactions is append-only",
    ),
    _sqlite_abort(
        "pay_transactions",
        "INSERT",
        "pay_transactions_two_postings",
        "a ledger transaction needs at least two postings",
        "(SELECT count(*) FROM pay_postings WHERE transaction_id = NEW.id) < 2",
    ),
    _sqlite_abort(
        "pay_transactions",
        "INSERT",
        "pay_transactions_balanced",
        "ledger transaction does not balance",
        "EXISTS (SELECT 1 FROM pay_postings WHERE transaction_id = NEW.id "
        "GROUP BY currency HAVING sum(amount) <> 0)",
    ),
    _sqlite_abort(
        "pay_postings",
        "INSERT",
        "pay_postings_sealed",
        "ledger transaction is sealed; postings cannot be added to it",
        "EXISTS (SELECT 1 FROM pay_transactions WHERE id = NEW.transaction_id)",
    ),
    """CREATE TRIGGER pay_postings_apply AFTER INSERT ON pay_postings
       BEGIN UPDATE pay_accounts SET balance = balance + NEW.amount WHERE id = NEW.account_id; END""",
    _sqlite_abort(
        "pay_accounts",
        "INSERT",
        "pay_accounts_start_at_zero",
        "a new account starts with zero balance; fund it with postings",
        "NEW.balance <> 0 OR NEW.held <> 0",
    ),
    _sqlite_abort(
        "pay_accounts",
        "UPDATE",
        "pay_accounts_fixed_currency",
        "an account cannot change its id or currency",
        "NEW.id <> OLD.id OR NEW.currency <> OLD.currency",
    ),
    _sqlite_abort(
        "pay_holds", "DELETE", "pay_holds_no_delete", "holds cannot be deleted; void them"
    ),
    _sqlite_abort(
        "pay_holds",
        "INSERT",
        "pay_holds_start_pending",
        "a hold starts pending",
        "NEW.status <> 'pending'",
    ),
    _sqlite_abort(
        "pay_holds",
        "UPDATE",
        "pay_holds_final",
        "hold is already resolved",
        "OLD.status <> 'pending'",
    ),
    _sqlite_abort(
        "pay_holds",
        "UPDATE",
        "pay_holds_fixed_terms",
        "a hold can only change its status",
        "NEW.id <> OLD.id OR NEW.amount <> OLD.amount OR NEW.account_id <> OLD.account_id "
        "OR NEW.credit_account_id <> OLD.credit_account_id OR NEW.currency <> OLD.currency",
    ),
    """CREATE TRIGGER pay_holds_apply_insert AFTER INSERT ON pay_holds
       BEGIN UPDATE pay_accounts SET held = held + NEW.amount WHERE id = NEW.account_id; END""",
    """CREATE TRIGGER pay_holds_apply_resolve AFTER UPDATE ON pay_holds
       WHEN OLD.status = 'pending' AND NEW.status <> 'pending'
       BEGIN UPDATE pay_accounts SET held = held - OLD.amount WHERE id = OLD.account_id; END""",
)


# ISO 4217 codes are three capital letters; which ones are known is the service's business.
def _currency_check(dialect: str) -> str:
    if dialect == "postgresql":
        return "currency ~ '^[A-Z]{3}$'"
    return "currency GLOB '[A-Z][A-Z][A-Z]'"


def upgrade() -> None:
    op.create_table(
        "pay_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner_type", sa.String(length=20), nullable=False),
        sa.Column("owner_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("may_go_negative", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("held", sa.BigInteger(), nullable=False),
        sa.Column("notify_phone", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            _currency_check(op.get_bind().dialect.name),
            name=op.f("ck_pay_accounts_currency_iso_4217"),
        ),
        sa.CheckConstraint(
            "kind IN ('wallet', 'merchant', 'agent_float', 'biller', 'fees', 'issuance', 'settlement')",
            name=op.f("ck_pay_accounts_known_kind"),
        ),
        sa.CheckConstraint("held >= 0", name=op.f("ck_pay_accounts_held_not_negative")),
        sa.CheckConstraint(
            "may_go_negative OR balance - held >= 0",
            name=op.f("ck_pay_accounts_available_not_negative"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_accounts")),
        sa.UniqueConstraint("id", "currency", name=op.f("uq_pay_accounts_id_currency")),
        sa.UniqueConstraint(
            "owner_type",
            "owner_id",
            "kind",
            "currency",
            name=op.f("uq_pay_accounts_owner_type_owner_id_kind_currency"),
        ),
    )
    op.create_table(
        "pay_idempotency_keys",
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_pay_idempotency_keys")),
    )
    with op.batch_alter_table("pay_idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pay_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "pay_billers",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("reference_pattern", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "category IN ('electricity', 'gas', 'water', 'internet', 'phone')",
            name=op.f("ck_pay_billers_known_category"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["pay_accounts.id"], name=op.f("fk_pay_billers_account_id_pay_accounts")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_pay_billers")),
    )
    op.create_table(
        "pay_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "credit_account_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("captured_amount", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status = 'captured' OR captured_amount = 0",
            name=op.f("ck_pay_holds_captured_only_when_captured"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'captured', 'voided', 'expired')",
            name=op.f("ck_pay_holds_known_status"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_pay_holds_amount_positive")),
        sa.CheckConstraint(
            "captured_amount >= 0 AND captured_amount <= amount",
            name=op.f("ck_pay_holds_captured_within_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "currency"],
            ["pay_accounts.id", "pay_accounts.currency"],
            name="fk_pay_holds_account_currency",
        ),
        sa.ForeignKeyConstraint(
            ["credit_account_id", "currency"],
            ["pay_accounts.id", "pay_accounts.currency"],
            name="fk_pay_holds_credit_account_currency",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_holds")),
    )
    with op.batch_alter_table("pay_holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pay_holds_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            "ix_pay_holds_status_expires_at", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "pay_operations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("initiator", sa.String(length=100), nullable=False),
        sa.Column("client_reference", sa.String(length=100), nullable=True),
        sa.Column(
            "payer_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "payee_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee", sa.BigInteger(), nullable=False),
        sa.Column("original_id", sa.Uuid(), nullable=True),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("reference", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('authorized', 'completed', 'voided', 'expired')",
            name=op.f("ck_pay_operations_known_status"),
        ),
        sa.CheckConstraint(
            "type IN ('p2p_transfer', 'bill_payment', 'cash_in', 'cash_out', 'purchase', 'void', 'refund', 'funding', 'settlement')",
            name=op.f("ck_pay_operations_known_type"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_pay_operations_amount_positive")),
        sa.CheckConstraint("fee >= 0", name=op.f("ck_pay_operations_fee_not_negative")),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["pay_holds.id"], name=op.f("fk_pay_operations_hold_id_pay_holds")
        ),
        sa.ForeignKeyConstraint(
            ["original_id"],
            ["pay_operations.id"],
            name=op.f("fk_pay_operations_original_id_pay_operations"),
        ),
        sa.ForeignKeyConstraint(
            ["payee_account_id"],
            ["pay_accounts.id"],
            name=op.f("fk_pay_operations_payee_account_id_pay_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["payer_account_id"],
            ["pay_accounts.id"],
            name=op.f("fk_pay_operations_payer_account_id_pay_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_operations")),
        sa.UniqueConstraint(
            "initiator",
            "client_reference",
            name=op.f("uq_pay_operations_initiator_client_reference"),
        ),
    )
    with op.batch_alter_table("pay_operations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pay_operations_payee_created", ["payee_account_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_pay_operations_payer_type_created",
            ["payer_account_id", "type", "created_at"],
            unique=False,
        )

    op.create_table(
        "pay_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("recipient", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'dead')", name=op.f("ck_pay_outbox_known_status")
        ),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["pay_operations.id"],
            name=op.f("fk_pay_outbox_operation_id_pay_operations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_outbox")),
    )
    with op.batch_alter_table("pay_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_pay_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "pay_transactions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("operation_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operation_id"],
            ["pay_operations.id"],
            name=op.f("fk_pay_transactions_operation_id_pay_operations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_transactions")),
    )
    with op.batch_alter_table("pay_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pay_transactions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pay_transactions_operation_id"), ["operation_id"], unique=False
        )

    op.create_table(
        "pay_postings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("transaction_id", sa.Uuid(), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("currency", sa.CHAR(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_pay_postings_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["account_id", "currency"],
            ["pay_accounts.id", "pay_accounts.currency"],
            name="fk_pay_postings_account_currency",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["pay_transactions.id"],
            name="fk_pay_postings_transaction_id_pay_transactions",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pay_postings")),
    )
    with op.batch_alter_table("pay_postings", schema=None) as batch_op:
        batch_op.create_index("ix_pay_postings_account_id_id", ["account_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_pay_postings_transaction_id"), ["transaction_id"], unique=False
        )

    op.create_table(
        "pay_wallet_pins",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "failed_attempts >= 0", name=op.f("ck_pay_wallet_pins_attempts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["pay_accounts.id"],
            name=op.f("fk_pay_wallet_pins_account_id_pay_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_pay_wallet_pins")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTIONS)
        op.execute(_PG_TRIGGERS)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    op.drop_table("pay_wallet_pins")
    with op.batch_alter_table("pay_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pay_postings_transaction_id"))
        batch_op.drop_index("ix_pay_postings_account_id_id")

    op.drop_table("pay_postings")
    with op.batch_alter_table("pay_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pay_transactions_operation_id"))
        batch_op.drop_index(batch_op.f("ix_pay_transactions_created_at"))

    op.drop_table("pay_transactions")
    with op.batch_alter_table("pay_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_pay_outbox_status_next_attempt_at")

    op.drop_table("pay_outbox")
    with op.batch_alter_table("pay_operations", schema=None) as batch_op:
        batch_op.drop_index("ix_pay_operations_payer_type_created")
        batch_op.drop_index("ix_pay_operations_payee_created")

    op.drop_table("pay_operations")
    with op.batch_alter_table("pay_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_pay_holds_status_expires_at")
        batch_op.drop_index(batch_op.f("ix_pay_holds_account_id"))

    op.drop_table("pay_holds")
    op.drop_table("pay_billers")
    with op.batch_alter_table("pay_idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pay_idempotency_keys_expires_at"))

    op.drop_table("pay_idempotency_keys")
    op.drop_table("pay_accounts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_DROP_FUNCTIONS)
