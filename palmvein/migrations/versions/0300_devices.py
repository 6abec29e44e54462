"""devices: pay points, devices bound to a merchant account or a pay point, HMAC keys (sealed),
used nonces (replay guard), heartbeats

Revision ID: 0300_devices
Revises: 0200_payments
Create Date: 2026-11-22

The primary key of ``dev_nonces`` (device, nonce) is the replay guard: of two concurrent
requests with one nonce, the database lets exactly one insert commit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0300_devices"
down_revision: str | None = "0200_payments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_BINDING_RULE = (
    "(kind = 'counter_terminal' AND merchant_account_id IS NOT NULL AND pay_point_id IS NULL)"
    " OR (kind = 'pay_point' AND pay_point_id IS NOT NULL AND merchant_account_id IS NULL)"
    " OR (kind = 'scanner' AND merchant_account_id IS NULL)"
)


def upgrade() -> None:
    op.create_table(
        "dev_pay_points",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_pay_points")),
        sa.UniqueConstraint("code", name=op.f("uq_dev_pay_points_code")),
    )
    op.create_table(
        "dev_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("serial", sa.String(length=100), nullable=True),
        sa.Column("merchant_account_id", _BIG_ID, nullable=True),
        sa.Column("pay_point_id", sa.Integer(), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("software_version", sa.String(length=60), nullable=True),
        sa.Column("scanner_status", sa.String(length=40), nullable=True),
        sa.CheckConstraint(
            "kind IN ('scanner', 'counter_terminal', 'pay_point')",
            name=op.f("ck_dev_devices_known_kind"),
        ),
        sa.CheckConstraint(_BINDING_RULE, name=op.f("ck_dev_devices_binding_matches_kind")),
        sa.ForeignKeyConstraint(
            ["merchant_account_id"],
            ["pay_accounts.id"],
            name=op.f("fk_dev_devices_merchant_account_id_pay_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["pay_point_id"],
            ["dev_pay_points.id"],
            name=op.f("fk_dev_devices_pay_point_id_dev_pay_points"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_devices")),
        sa.UniqueConstraint("serial", name=op.f("uq_dev_devices_serial")),
    )
    op.create_index(
        op.f("ix_dev_devices_merchant_account_id"), "dev_devices", ["merchant_account_id"]
    )
    op.create_index(op.f("ix_dev_devices_pay_point_id"), "dev_devices", ["pay_point_id"])
    op.create_table(
        "dev_credentials",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("sealing_key_id", sa.String(length=40), nullable=False),
        sa.Column("nonce", sa.LargeBinary(length=12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["dev_devices.id"], name=op.f("fk_dev_credentials_device_id_dev_devices")
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_dev_credentials")),
    )
    op.create_index(op.f("ix_dev_credentials_device_id"), "dev_credentials", ["device_id"])
    op.create_table(
        "dev_nonces",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["dev_devices.id"], name=op.f("fk_dev_nonces_device_id_dev_devices")
        ),
        sa.PrimaryKeyConstraint("device_id", "nonce", name=op.f("pk_dev_nonces")),
    )
    op.create_index(op.f("ix_dev_nonces_expires_at"), "dev_nonces", ["expires_at"])
    op.create_table(
        "dev_heartbeats",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("software_version", sa.String(length=60), nullable=False),
        sa.Column("scanner_status", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["dev_devices.id"], name=op.f("fk_dev_heartbeats_device_id_dev_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dev_heartbeats")),
    )
    op.create_index(
        "ix_dev_heartbeats_device_id_received_at",
        "dev_heartbeats",
        ["device_id", "received_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_dev_heartbeats_device_id_received_at", table_name="dev_heartbeats")
    op.drop_table("dev_heartbeats")
    op.drop_index(op.f("ix_dev_nonces_expires_at"), table_name="dev_nonces")
    op.drop_table("dev_nonces")
    op.drop_index(op.f("ix_dev_credentials_device_id"), table_name="dev_credentials")
    op.drop_table("dev_credentials")
    op.drop_index(op.f("ix_dev_devices_pay_point_id"), table_name="dev_devices")
    op.drop_index(op.f("ix_dev_devices_merchant_account_id"), table_name="dev_devices")
    op.drop_table("dev_devices")
    op.drop_table("dev_pay_points")
