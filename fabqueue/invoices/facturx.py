"""The invoice's Cross-Industry-Invoice XML, profile EN 16931 (Factur-X), and the PDF/A-3
that carries it.

Built from the issued record (the same figures the PDF prints), so the XML's totals are
the PDF's. Element order follows the CII D16B schema: the XSD refuses any other.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session

from fabqueue.models.invoices import Invoice, InvoiceKind, InvoiceLine
from fabqueue.pricing import from_cents, line_total_cents
from fabqueue.profiles.site import VatRegime

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
for _prefix, _uri in NS.items():
    ET.register_namespace(_prefix, _uri)

TYPE_CODES = {
    InvoiceKind.invoice: "380",
    InvoiceKind.deposit: "386",
    InvoiceKind.credit_note: "381",
}
"""UNTDID 1001: commercial invoice, prepayment invoice, credit note."""
UNIT_CODES = {"heure": "HUR", "h": "HUR", "m": "MTR", "m2": "MTK"}
"""UN/ECE rec. 20; anything else is a piece (C62)."""
EXEMPTION_CODES = {
    VatRegime.franchise_293B: "VATEX-FR-FRANCHISE",
    VatRegime.association_exempt: "VATEX-EU-132",
}


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    prefix, name = tag.split(":")
    node = ET.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrs)
    if text is not None:
        node.text = text
    return node


def _amount(cents: int) -> str:
    return str(from_cents(cents))


def _date(parent: ET.Element, tag: str, day: date) -> None:
    holder = _el(parent, tag)
    _el(holder, "udt:DateTimeString", day.strftime("%Y%m%d"), format="102")


def _rate(bp: int) -> str:
    return format((Decimal(bp) / 100).normalize(), "f")


def _address(party: ET.Element, lines: list[str]) -> None:
    """Street lines, then the « 69003 Lyon » line split into postcode and town."""
    address = _el(party, "ram:PostalTradeAddress")
    postcode, city, street = None, None, []
    for row in lines:
        m = re.fullmatch(r"\s*(\d{5})\s+(.+)", row)
        if m and postcode is None:
            postcode, city = m.group(1), m.group(2).strip()
        else:
            street.append(row)
    if postcode:
        _el(address, "ram:PostcodeCode", postcode)
    for tag, row in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), street, strict=False):
        _el(address, tag, row)
    if city:
        _el(address, "ram:CityName", city)
    _el(address, "ram:CountryID", "FR")


def _party(parent: ET.Element, tag: str, who: dict[str, Any]) -> None:
    party = _el(parent, tag)
    _el(party, "ram:Name", who.get("name") or "Client au comptoir")
    siret = who.get("siret")
    if siret:
        legal = _el(party, "ram:SpecifiedLegalOrganization")
        _el(legal, "ram:ID", str(siret)[:9], schemeID="0002")  # SIREN
    _address(party, list(who.get("address") or []))
    if who.get("vat_number"):
        tax = _el(party, "ram:SpecifiedTaxRegistration")
        _el(tax, "ram:ID", who["vat_number"], schemeID="VA")


def _category(invoice: Invoice, rate_bp: int) -> str:
    if invoice.vat_regime != VatRegime.normal:
        return "E"
    return "S" if rate_bp else "Z"


def _line(tx: ET.Element, invoice: Invoice, line: InvoiceLine, index: int) -> None:
    item = _el(tx, "ram:IncludedSupplyChainTradeLineItem")
    doc = _el(item, "ram:AssociatedDocumentLineDocument")
    _el(doc, "ram:LineID", str(index))
    product = _el(item, "ram:SpecifiedTradeProduct")
    _el(product, "ram:Name", line.description)
    agreement = _el(item, "ram:SpecifiedLineTradeAgreement")
    net = _el(agreement, "ram:NetPriceProductTradePrice")
    _el(net, "ram:ChargeAmount", _amount(abs(line.unit_price_cents)))
    delivery = _el(item, "ram:SpecifiedLineTradeDelivery")
    quantity = Decimal(line.quantity_milli) / 1000
    # A discount or a deposit deducted is a line of negative quantity at a positive
    # price, as EN 16931 wants (BR-27: the net price is never negative).
    sign = -1 if line.unit_price_cents < 0 else 1
    _el(
        delivery,
        "ram:BilledQuantity",
        format((quantity * sign).normalize(), "f"),
        unitCode=UNIT_CODES.get(line.unit, "C62"),
    )
    settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
    tax = _el(settlement, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", _category(invoice, line.vat_rate_bp))
    _el(tax, "ram:RateApplicablePercent", _rate(_line_rate(invoice, line)))
    summation = _el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
    _el(
        summation, "ram:LineTotalAmount", _amount(line_total_cents(line.unit_price_cents, quantity))
    )


def _line_rate(invoice: Invoice, line: InvoiceLine) -> int:
    return line.vat_rate_bp if invoice.vat_regime == VatRegime.normal else 0


def _header_taxes(settlement: ET.Element, invoice: Invoice, lines: list[InvoiceLine]) -> None:
    if invoice.vat_regime == VatRegime.normal:
        rows = [(v["rate_bp"], v["base_cents"], v["vat_cents"]) for v in invoice.vat_breakdown]
        zero = sum(
            line_total_cents(ln.unit_price_cents, Decimal(ln.quantity_milli) / 1000)
            for ln in lines
            if ln.vat_rate_bp == 0
        )
        if zero or not rows:
            rows.append((0, zero, 0))
    else:
        rows = [(0, invoice.total_ht_cents or 0, 0)]
    for rate_bp, base, vat in rows:
        tax = _el(settlement, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", _amount(vat))
        _el(tax, "ram:TypeCode", "VAT")
        category = _category(invoice, rate_bp)
        if category == "E":
            _el(tax, "ram:ExemptionReason", invoice.vat_mention or "Exonération de TVA")
        _el(tax, "ram:BasisAmount", _amount(base))
        _el(tax, "ram:CategoryCode", category)
        if category == "E" and invoice.vat_regime in EXEMPTION_CODES:
            _el(tax, "ram:ExemptionReasonCode", EXEMPTION_CODES[invoice.vat_regime])
        _el(tax, "ram:RateApplicablePercent", _rate(rate_bp))


def build_xml(
    invoice: Invoice, lines: list[InvoiceLine], corrected_number: str | None = None
) -> bytes:
    """The EN 16931 CII XML of an issued invoice, deposit invoice or credit note."""
    assert invoice.number and invoice.issue_date
    root = ET.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice")
    context = _el(root, "rsm:ExchangedDocumentContext")
    guideline = _el(context, "ram:GuidelineSpecifiedDocumentContextParameter")
    _el(guideline, "ram:ID", "urn:cen.eu:en16931:2017")
    doc = _el(root, "rsm:ExchangedDocument")
    _el(doc, "ram:ID", invoice.number)
    _el(doc, "ram:TypeCode", TYPE_CODES[invoice.kind])
    _date(doc, "ram:IssueDateTime", invoice.issue_date)
    if invoice.vat_mention and invoice.vat_regime != VatRegime.normal:
        note = _el(doc, "ram:IncludedNote")
        _el(note, "ram:Content", invoice.vat_mention)
    tx = _el(root, "rsm:SupplyChainTradeTransaction")
    for index, line in enumerate(lines, start=1):
        _line(tx, invoice, line, index)
    agreement = _el(tx, "ram:ApplicableHeaderTradeAgreement")
    _party(agreement, "ram:SellerTradeParty", invoice.issuer)
    _party(agreement, "ram:BuyerTradeParty", invoice.client)
    delivery = _el(tx, "ram:ApplicableHeaderTradeDelivery")
    if invoice.service_date:
        event = _el(delivery, "ram:ActualDeliverySupplyChainEvent")
        _date(event, "ram:OccurrenceDateTime", invoice.service_date)
    settlement = _el(tx, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:InvoiceCurrencyCode", "EUR")
    _header_taxes(settlement, invoice, lines)
    if invoice.due_date and invoice.kind != InvoiceKind.credit_note:
        terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
        _date(terms, "ram:DueDateDateTime", invoice.due_date)
    _summation(settlement, invoice)
    if corrected_number:
        ref = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(ref, "ram:IssuerAssignedID", corrected_number)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def _summation(settlement: ET.Element, invoice: Invoice) -> None:
    ht = invoice.total_ht_cents or 0
    summation = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summation, "ram:LineTotalAmount", _amount(ht))
    _el(summation, "ram:TaxBasisTotalAmount", _amount(ht))
    _el(summation, "ram:TaxTotalAmount", _amount(invoice.total_vat_cents or 0), currencyID="EUR")
    _el(summation, "ram:GrandTotalAmount", _amount(invoice.total_ttc_cents or 0))
    _el(summation, "ram:DuePayableAmount", _amount(invoice.total_ttc_cents or 0))


def embed(pdf: bytes, xml: bytes, *, title: str, author: str) -> bytes:
    """The PDF/A-3 with the XML attached as ``factur-x.xml``; the XML is checked against
    the EN 16931 XSD shipped with ``factur-x`` on the way."""
    from facturx import generate_from_binary

    out: bytes = generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=True,
        lang="fr-FR",
        pdf_metadata={
            "author": author,
            "keywords": "Facture, Factur-X",
            "title": title,
            "subject": f"{title} — {author}",
        },
    )
    return out


Renderer = Callable[[Session, Invoice, list[InvoiceLine]], bytes]
"""(session, an issued record, its lines) -> the PDF/A-3 bytes with the XML inside."""


def factur_x_xml(session: Session, invoice: Invoice, lines: list[InvoiceLine]) -> bytes:
    corrected = session.get(Invoice, invoice.corrects_id) if invoice.corrects_id else None
    return build_xml(invoice, lines, corrected.number if corrected else None)
