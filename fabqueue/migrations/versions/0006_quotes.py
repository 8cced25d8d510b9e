"""quotes: 64-bit money, the signature date of a paper acceptance, chosen VAT rates

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004_core"
branch_labels = None
depends_on = None

MONEY = {
    "quote": ("total_ht_cents", "total_vat_cents", "total_ttc_cents"),
    "quote_line": ("unit_price_cents",),
}


def _widen(to: sa.types.TypeEngine[int], from_: sa.types.TypeEngine[int]) -> None:
    # SQLite stores every INTEGER in up to 8 bytes already: only PostgreSQL's 32-bit
    # columns need widening (and rebuilding SQLite's quote table, which other tables
    # reference, would trip its foreign keys).
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in MONEY.items():
        for column in columns:
            op.alter_column(table, column, type_=to, existing_type=from_)


def upgrade() -> None:
    _widen(sa.BigInteger(), sa.Integer())
    with op.batch_alter_table("quote", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signed_on", sa.Date(), nullable=True))
    with op.batch_alter_table("quote_line", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("vat_rate_manual", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Lines made before this revision were sent with the rate they carry: a non-zero
    # rate was chosen under the normal regime and is kept; a 0 % may be a leftover of the
    # franchise, and follows the regime in force when its quote is sent.
    op.execute("UPDATE quote_line SET vat_rate_manual = (vat_rate_bp <> 0)")


def downgrade() -> None:
    _refuse_big_money()
    # SQLite drops a column in place (3.35+): rebuilding the quote table, which other
    # tables reference, would trip its foreign keys as soon as it holds a quote.
    with op.batch_alter_table("quote_line", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("vat_rate_manual")
    with op.batch_alter_table("quote", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("signed_on")
    _widen(sa.Integer(), sa.BigInteger())


def _refuse_big_money() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    for table, columns in MONEY.items():
        for column in columns:
            top = op.get_bind().execute(sa.text(f"SELECT max(abs({column})) FROM {table}")).scalar()
            if top is not None and top > 2**31 - 1:
                raise RuntimeError(
                    f"{table}.{column} holds {top} cents, more than 32 bits take: "
                    "this database cannot go back before revision 0006"
                )
