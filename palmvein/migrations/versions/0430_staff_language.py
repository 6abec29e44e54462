"""core: each staff user's preferred language for the pages.

``staff_users.language`` is nullable: a user without a choice keeps the browser's (the
``palmvein_lang`` cookie, else Accept-Language). A CHECK keeps it to the pages' languages.

Revision ID: 0430_staff_language
Revises: 0420_bank_transfer
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0430_staff_language"
down_revision: str | None = "0420_bank_transfer"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.create_check_constraint(
            op.f("ck_staff_users_known_language"), "language IN ('ar', 'en', 'fr')"
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_constraint(op.f("ck_staff_users_known_language"), type_="check")
        batch.drop_column("language")
