"""matcher: persons, encrypted templates, enrolment change log, duplicate cases

Revision ID: 0100_matcher
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100_matcher"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bio_persons",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("external_ref", sa.String(100), nullable=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bio_persons")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_bio_persons_external_ref")),
    )
    op.create_table(
        "bio_templates",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("hand", sa.String(5), nullable=False),
        sa.Column("algorithm", sa.String(40), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("nonce", sa.LargeBinary(12), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("hand IN ('left', 'right')", name=op.f("ck_bio_templates_hand")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["bio_persons.id"], name=op.f("fk_bio_templates_person_id_bio_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bio_templates")),
    )
    op.create_index(op.f("ix_bio_templates_person_id"), "bio_templates", ["person_id"])
    op.create_index(op.f("ix_bio_templates_key_id"), "bio_templates", ["key_id"])
    op.create_table(
        "bio_changes",
        sa.Column("seq", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("template_id", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('add', 'remove')", name=op.f("ck_bio_changes_kind")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_bio_changes")),
    )
    op.create_index(op.f("ix_bio_changes_person_id"), "bio_changes", ["person_id"])
    op.create_table(
        "bio_duplicate_cases",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("matched_person_id", sa.String(36), nullable=False),
        sa.Column("hand", sa.String(5), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'confirmed_duplicate', 'dismissed')",
            name=op.f("ck_bio_duplicate_cases_status"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["bio_persons.id"],
            name=op.f("fk_bio_duplicate_cases_person_id_bio_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["matched_person_id"],
            ["bio_persons.id"],
            name=op.f("fk_bio_duplicate_cases_matched_person_id_bio_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bio_duplicate_cases")),
    )
    op.create_index(op.f("ix_bio_duplicate_cases_person_id"), "bio_duplicate_cases", ["person_id"])


def downgrade() -> None:
    op.drop_table("bio_duplicate_cases")
    op.drop_index(op.f("ix_bio_changes_person_id"), table_name="bio_changes")
    op.drop_table("bio_changes")
    op.drop_index(op.f("ix_bio_templates_key_id"), table_name="bio_templates")
    op.drop_index(op.f("ix_bio_templates_person_id"), table_name="bio_templates")
    op.drop_table("bio_templates")
    op.drop_table("bio_persons")
