"""invoices: invoices, deposit invoices and credit notes, their lines and events, the
number sequences per series and year, jobs billed, payments

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

MONEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24, create_constraint=False)


def _stamp(name: str, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


STATE = ("draft", "issued", "partially_paid", "paid", "cancelled")


def upgrade() -> None:
    op.create_table(
        "invoice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind", _enum("invoicekind", "invoice", "deposit", "credit_note"), nullable=False
        ),
        sa.Column("state", _enum("invoicestate", *STATE), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("customer_name", sa.String(length=200), nullable=True),
        sa.Column("business", sa.Boolean(), nullable=False),
        sa.Column("quote_id", sa.Integer(), nullable=True),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=False),
        sa.Column("till_reference", sa.String(length=120), nullable=True),
        sa.Column("service_date", sa.Date(), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column(
            "vat_regime",
            _enum("vatregime", "normal", "franchise_293B", "association_exempt"),
            nullable=True,
        ),
        sa.Column("vat_mention", sa.String(length=300), nullable=True),
        sa.Column("issuer", sa.JSON(), nullable=False),
        sa.Column("client", sa.JSON(), nullable=False),
        sa.Column("total_ht_cents", MONEY, nullable=True),
        sa.Column("total_vat_cents", MONEY, nullable=True),
        sa.Column("total_ttc_cents", MONEY, nullable=True),
        sa.Column("vat_breakdown", sa.JSON(), nullable=False),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("footprint", sa.String(length=64), nullable=True),
        sa.Column("previous_footprint", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at"),
        _stamp("issued_at", nullable=True),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["quote_id"], ["quote.id"]),
        sa.ForeignKeyConstraint(["corrects_id"], ["invoice.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    for column in ("organisation_id", "quote_id", "corrects_id"):
        op.create_index(f"ix_invoice_{column}", "invoice", [column])
    op.create_table(
        "invoice_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("invoicelinekind", "item", "discount", "deposit"), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity_milli", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("unit_price_cents", MONEY, nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("account_key", sa.String(length=32), nullable=False),
        sa.Column("quote_line_id", sa.Integer(), nullable=True),
        sa.Column("job_ids", sa.JSON(), nullable=False),
        sa.Column("deposit_invoice_id", sa.Integer(), nullable=True),
        sa.Column("credited_line_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"]),
        sa.ForeignKeyConstraint(["quote_line_id"], ["quote_line.id"]),
        sa.ForeignKeyConstraint(["deposit_invoice_id"], ["invoice.id"]),
        sa.ForeignKeyConstraint(["credited_line_id"], ["invoice_line.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credited_line_id"),
    )
    op.create_index("ix_invoice_line_invoice_id", "invoice_line", ["invoice_id"])
    op.create_index("ix_invoice_line_quote_line_id", "invoice_line", ["quote_line_id"])
    op.create_table(
        "invoice_job",
        sa.Column("job_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"]),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_invoice_job_invoice_id", "invoice_job", ["invoice_id"])
    op.create_table(
        "invoice_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        _stamp("at"),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("from_state", _enum("invoicestate", *STATE), nullable=True),
        sa.Column("to_state", _enum("invoicestate", *STATE), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_invoice_event_invoice_id", "invoice_event", ["invoice_id"])
    op.create_table(
        "invoice_sequence",
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("series", "year"),
    )
    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", MONEY, nullable=False),
        sa.Column(
            "method",
            _enum("paymentmethod", "especes", "carte", "cheque", "virement"),
            nullable=False,
        ),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("recorded_by", sa.String(length=120), nullable=False),
        _stamp("recorded_at"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_payment_invoice_id", "payment", ["invoice_id"])


def downgrade() -> None:
    # Issued invoices are kept ten years (C. com. L123-22): never drop them.
    count = op.get_bind().execute(sa.text("SELECT count(*) FROM invoice WHERE number IS NOT NULL"))
    if count.scalar_one():
        raise RuntimeError("the database holds issued invoices: they must be kept, not dropped")
    for table in ("payment", "invoice_sequence", "invoice_event", "invoice_job", "invoice_line"):
        op.drop_table(table)
    op.drop_table("invoice")
