"""What the accountant receives: the FEC of a fiscal year, CSVs of sales and payments,
and the check of the invoices' chained footprints.

The FEC follows article A47 A-1 of the Livre des procédures fiscales: 18 tab-separated
columns, one row per account movement, each entry (EcritureNum) balanced, entries in
date order. Amounts are written with a decimal comma; dates as YYYYMMDD.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from sqlmodel import Session, col, select

from fabqueue.invoices.issuing import footprint_of
from fabqueue.invoices.states import ISSUED_STATES
from fabqueue.models.invoices import Invoice, InvoiceKind, InvoiceLine, Payment
from fabqueue.pricing import from_cents, line_total_cents
from fabqueue.profiles.site import Accounts
from fabqueue.storage import FileMissing, FileStore

FEC_COLUMNS = (
    "JournalCode",
    "JournalLib",
    "EcritureNum",
    "EcritureDate",
    "CompteNum",
    "CompteLib",
    "CompAuxNum",
    "CompAuxLib",
    "PieceRef",
    "PieceDate",
    "EcritureLib",
    "Debit",
    "Credit",
    "EcritureLet",
    "DateLet",
    "ValidDate",
    "Montantdevise",
    "Idevise",
)

ACCOUNT_LABELS = {
    "411": "Clients",
    "419": "Clients - avances et acomptes reçus",
    "445": "TVA collectée",
    "706": "Prestations de services",
    "511": "Valeurs à l'encaissement",
    "512": "Banque",
    "530": "Caisse",
}

JOURNALS = {"sales": "Journal des ventes", "bank": "Journal de trésorerie"}


def _label(account: str) -> str:
    return ACCOUNT_LABELS.get(account[:3], "Compte " + account)


def _amount(cents: int) -> str:
    return f"{from_cents(cents):.2f}".replace(".", ",")


@dataclass(frozen=True)
class Movement:
    account: str
    debit_cents: int
    aux: tuple[str, str] = ("", "")


class Sale(NamedTuple):
    """The columns of an issued invoice the FEC needs."""

    id: int
    kind: InvoiceKind
    number: str
    issue_date: date
    organisation_id: int | None
    customer_name: str | None
    client: dict[str, Any]
    total_ttc_cents: int | None
    vat_breakdown: list[dict[str, Any]]


SALE_COLUMNS = (
    Invoice.id,
    Invoice.kind,
    Invoice.number,
    Invoice.issue_date,
    Invoice.organisation_id,
    Invoice.customer_name,
    Invoice.client,
    Invoice.total_ttc_cents,
    Invoice.vat_breakdown,
)


def _customer(invoice: Invoice | Sale) -> tuple[str, str]:
    code = f"C{invoice.organisation_id:05d}" if invoice.organisation_id else "COMPTOIR"
    return code, str(invoice.client.get("name") or invoice.customer_name or "Client au comptoir")


def _account_sums(
    session: Session, ids: list[int], accounts: Accounts
) -> dict[int, dict[str, int]]:
    """Per invoice, HT per account (columns only: the ORM's objects cost seconds on a
    year of invoices)."""
    out: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for chunk in range(0, len(ids), 500):
        rows = session.exec(
            select(
                InvoiceLine.invoice_id,
                InvoiceLine.account_key,
                InvoiceLine.unit_price_cents,
                InvoiceLine.quantity_milli,
            ).where(col(InvoiceLine.invoice_id).in_(ids[chunk : chunk + 500]))
        )
        for invoice_id, key, cents, milli in rows:
            account = accounts.deposits if key == "deposit" else accounts.sales_account(key)
            total = cents * milli // 1000 if milli % 1000 == 0 else _line_cents(cents, milli)
            out[invoice_id][account] += total
    return out


def _line_cents(cents: int, milli: int) -> int:
    return line_total_cents(cents, Decimal(milli) / 1000)


def _sales_movements(
    invoice: Sale, by_account: dict[str, int], accounts: Accounts
) -> list[Movement]:
    """Debit the customer TTC, credit sales per account and VAT per rate (the other way
    round for a credit note)."""
    sign = -1 if invoice.kind == InvoiceKind.credit_note else 1
    moves = [
        Movement(accounts.customers, sign * (invoice.total_ttc_cents or 0), _customer(invoice))
    ]
    moves += [Movement(acc, -sign * cents) for acc, cents in sorted(by_account.items()) if cents]
    for v in invoice.vat_breakdown:
        rate = Decimal(v["rate_bp"]) / 100
        moves.append(Movement(accounts.vat_account(rate), -sign * v["vat_cents"]))
    return [m for m in moves if m.debit_cents]


def _rows(
    journal: str,
    num: str,
    day: date,
    piece: str,
    label: str,
    moves: list[Movement],
) -> Iterator[list[str]]:
    stamp = day.strftime("%Y%m%d")
    for m in moves:
        debit, credit = (m.debit_cents, 0) if m.debit_cents > 0 else (0, -m.debit_cents)
        yield [
            journal,
            JOURNALS["sales"] if journal != "BQ" else JOURNALS["bank"],
            num,
            stamp,
            m.account,
            _label(m.account),
            m.aux[0],
            _clean(m.aux[1]),
            _clean(piece),
            stamp,
            _clean(label),
            _amount(debit),
            _amount(credit),
            "",
            "",
            stamp,
            "",
            "",
        ]


def _issued_in(session: Session, start: date, end: date) -> list[Invoice]:
    return list(
        session.exec(
            select(Invoice)
            .where(col(Invoice.state).in_(list(ISSUED_STATES)))
            .where(col(Invoice.issue_date) >= start)
            .where(col(Invoice.issue_date) <= end)
            .order_by(col(Invoice.issue_date), col(Invoice.series), col(Invoice.seq))
        )
    )


def _lines_by_invoice(session: Session, ids: list[int]) -> dict[int, list[InvoiceLine]]:
    out: dict[int, list[InvoiceLine]] = defaultdict(list)
    for chunk in range(0, len(ids), 500):
        for ln in session.exec(
            select(InvoiceLine)
            .where(col(InvoiceLine.invoice_id).in_(ids[chunk : chunk + 500]))
            .order_by(col(InvoiceLine.invoice_id), col(InvoiceLine.position))
        ):
            out[ln.invoice_id].append(ln)
    return out


def _payments_in(session: Session, start: date, end: date) -> list[tuple[Payment, Invoice]]:
    return [
        (p, i)
        for p, i in session.exec(
            select(Payment, Invoice)
            .join(Invoice, col(Invoice.id) == col(Payment.invoice_id))
            .where(col(Payment.paid_on) >= start)
            .where(col(Payment.paid_on) <= end)
            .order_by(col(Payment.paid_on), col(Payment.id))
        )
    ]


def _sales_of_year(session: Session, start: date, end: date) -> list[Sale]:
    rows = session.exec(
        select(*SALE_COLUMNS)  # type: ignore[call-overload]
        .where(col(Invoice.state).in_(list(ISSUED_STATES)))
        .where(col(Invoice.issue_date) >= start)
        .where(col(Invoice.issue_date) <= end)
        .order_by(col(Invoice.issue_date), col(Invoice.series), col(Invoice.seq))
    )
    return [Sale(*row) for row in rows]


def _payment_entries(
    session: Session, start: date, end: date, accounts: Accounts
) -> Iterator[tuple[date, int, str, str, str, list[Movement]]]:
    rows = session.exec(
        select(  # type: ignore[call-overload]
            Payment.id,
            Payment.amount_cents,
            Payment.method,
            Payment.paid_on,
            Payment.reference,
            *SALE_COLUMNS,
        )
        .join(Invoice, col(Invoice.id) == col(Payment.invoice_id))
        .where(col(Payment.paid_on) >= start)
        .where(col(Payment.paid_on) <= end)
        .order_by(col(Payment.paid_on), col(Payment.id))
    )
    for pay_id, cents, method, paid_on, reference, *invoice in rows:
        inv = Sale(*invoice)
        moves = [
            Movement(accounts.payments.get(method.value, "512000"), cents),
            Movement(accounts.customers, -cents, _customer(inv)),
        ]
        # A refund (a negative payment on a credit note) credits the bank, debits the
        # customer.
        what = "Remboursement" if cents < 0 else "Règlement"
        label = f"{what} {inv.number} {method.value} {reference}".strip()[:200]
        yield paid_on, 1, accounts.bank_journal, reference or f"REG{pay_id}", label, moves


KIND_LABELS = {"invoice": "Facture", "deposit": "Facture d'acompte", "credit_note": "Avoir"}


def fec_rows(session: Session, year: int, accounts: Accounts) -> list[list[str]]:
    """The FEC's rows for the calendar fiscal year ``year``, header first."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    invoices = _sales_of_year(session, start, end)
    sums = _account_sums(session, [i.id for i in invoices], accounts)
    entries: list[tuple[date, int, str, str, str, list[Movement]]] = []
    for inv in invoices:
        label = f"{KIND_LABELS[inv.kind.value]} {inv.number} {_customer(inv)[1]}"[:200]
        moves = _sales_movements(inv, sums[inv.id], accounts)
        entries.append((inv.issue_date, 0, accounts.sales_journal, inv.number, label, moves))
    entries.extend(_payment_entries(session, start, end, accounts))
    entries.sort(key=lambda e: (e[0], e[1]))
    rows = [list(FEC_COLUMNS)]
    # Entries are numbered without a break within each journal (VE000001, BQ000001…).
    counters: dict[str, int] = defaultdict(int)
    for day, _order, journal, piece, label, moves in entries:
        counters[journal] += 1
        rows.extend(_rows(journal, f"{journal}{counters[journal]:06d}", day, piece, label, moves))
    return rows


FEC_ENCODING = "iso-8859-15"
"""One of the character sets article A47 A-1 lists (with ASCII and EBCDIC); it has « é »
and « € ». A character outside it becomes « ? » rather than failing the export."""


def fec_text(session: Session, year: int, accounts: Accounts) -> str:
    return "".join("\t".join(row) + "\r\n" for row in fec_rows(session, year, accounts))


def fec_bytes(session: Session, year: int, accounts: Accounts) -> bytes:
    return fec_text(session, year, accounts).encode(FEC_ENCODING, errors="replace")


def _clean(cell: str) -> str:
    # A tab or a line break inside a label would shift every column after it.
    return cell.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def fec_filename(siret: str, year: int) -> str:
    """SIREN + « FEC » + closing date of the fiscal year (article A47 A-1)."""
    return f"{siret[:9]}FEC{year}1231.txt"


def sales_csv(session: Session, start: date, end: date) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(
        [
            "numero",
            "type",
            "date",
            "client",
            "total_ht",
            "tva",
            "total_ttc",
            "etat",
            "facture_corrigee",
        ]
    )
    invoices = _issued_in(session, start, end)
    numbers = {i.id: i.number for i in invoices}
    for inv in invoices:
        sign = -1 if inv.kind == InvoiceKind.credit_note else 1
        writer.writerow(
            [
                inv.number,
                inv.kind.value,
                inv.issue_date,
                _customer(inv)[1],
                from_cents(sign * (inv.total_ht_cents or 0)),
                from_cents(sign * (inv.total_vat_cents or 0)),
                from_cents(sign * (inv.total_ttc_cents or 0)),
                inv.state.value,
                numbers.get(inv.corrects_id, "") if inv.corrects_id else "",
            ]
        )
    return out.getvalue()


def payments_csv(session: Session, start: date, end: date) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["date", "facture", "client", "moyen", "reference", "montant"])
    for pay, inv in _payments_in(session, start, end):
        writer.writerow(
            [
                pay.paid_on,
                inv.number,
                _customer(inv)[1],
                pay.method.value,
                pay.reference,
                from_cents(pay.amount_cents),
            ]
        )
    return out.getvalue()


# --- integrity ----------------------------------------------------------------------


def verify(session: Session, store: FileStore | None = None) -> list[str]:
    """Every break in the chain: a gap or a duplicate in a series, a footprint that does
    not cover its record or its predecessor, an archived PDF missing or altered."""
    problems: list[str] = []
    invoices = list(
        session.exec(
            select(Invoice)
            .where(col(Invoice.number).is_not(None))
            .order_by(col(Invoice.series), col(Invoice.year), col(Invoice.seq))
        )
    )
    lines = _lines_by_invoice(session, [i.id for i in invoices if i.id is not None])
    previous: Invoice | None = None
    for inv in invoices:
        assert inv.id is not None
        same = previous is not None and (previous.series, previous.year) == (inv.series, inv.year)
        expected_seq = (previous.seq or 0) + 1 if same and previous else 1
        if inv.seq != expected_seq:
            problems.append(f"{inv.number}: expected number {expected_seq} in its series")
        expected_prev = previous.footprint if same and previous else None
        if inv.previous_footprint != expected_prev:
            problems.append(f"{inv.number}: its chain does not follow the previous record")
        if footprint_of(inv, lines[inv.id]) != inv.footprint:
            problems.append(f"{inv.number}: its record was changed after it was issued")
        problems.extend(_check_pdf(inv, store))
        previous = inv
    return problems


def _check_pdf(inv: Invoice, store: FileStore | None) -> list[str]:
    if inv.pdf_sha256 is None:
        return [f"{inv.number}: its PDF was never archived (`fabqueue invoices pdf {inv.id}`)"]
    if store is None:
        return []
    # Read from the store of record (the database, with the database store), so any
    # café's node checks the archive itself, not whether it happens to cache a copy.
    digest = hashlib.sha256()
    try:
        for chunk in store.read(inv.pdf_sha256):
            digest.update(chunk)
    except FileMissing:
        return [f"{inv.number}: its archived PDF is missing"]
    if digest.hexdigest() != inv.pdf_sha256:
        return [f"{inv.number}: its archived PDF was altered"]
    return []
