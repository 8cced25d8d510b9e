"""The invoice services' refusals in the person's language, with what to do.

The services speak English (the API's language); the pages show the known refusals
through the catalogues, and an unknown one as it is under a French lead, rather than
hiding it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Gettext = Callable[[str], str]


def _rules(_: Gettext) -> list[tuple[str, str]]:
    return [
        (
            r"is more than the (?P<due>[\d.]+) € due on",
            _("This amount is more than the %(due)s € still due on the invoice."),
        ),
        (
            r"is more than the (?P<due>[\d.]+) € the café owes",
            _("This amount is more than the %(due)s € the café owes back."),
        ),
        (r"credited already", _("These lines were credited already.")),
        (
            r"say why the invoice is credited",
            _("Say why the invoice is credited: the reason is printed on the credit note."),
        ),
        (
            r"name the lines to credit",
            _("Tick the lines to credit, or credit the whole invoice."),
        ),
        (
            r"nothing to invoice on quote",
            _("Nothing to invoice on this quote: no job of it was made since its last invoice."),
        ),
        (r"is invoiced in full already", _("This quote is invoiced in full already.")),
        (r"choose at least one line", _("Tick at least one line to invoice.")),
        (r"name the jobs to invoice", _("Tick at least one job to invoice.")),
        (
            r"an invoice names its customer",
            _("An invoice names its customer: choose an organisation or write a name."),
        ),
        (r"only a job made is invoiced", _("Only a job that is done can be invoiced.")),
        (
            r"does not charge members' machine time",
            _("The café does not charge members' machine time (prices.toml, [members])."),
        ),
        (
            r"has no job made and not invoiced yet",
            _("This member has no job made and not invoiced yet."),
        ),
        (
            r"does not charge members' bookings",
            _("The café does not charge members' bookings (prices.toml, [members])."),
        ),
        (
            r"has no booking to invoice",
            _("This member has no ended booking left to invoice."),
        ),
        (
            r"cannot be invoiced to",
            _("These bookings cannot be invoiced: cancelled, not over yet, or invoiced already."),
        ),
        (
            r"booking\(s\) .* are invoiced already",
            _("These bookings are invoiced already: cancel this draft."),
        ),
        (r"is on an invoice already", _("This job is on an invoice already.")),
        (
            r"was made from a quote",
            _("This job was made from a quote: invoice the quote instead."),
        ),
        (
            r"cannot be priced automatically",
            _("This job cannot be priced automatically: make a quote for it instead."),
        ),
        (r"comes to 0 €", _("This invoice comes to 0 €: there is nothing to invoice.")),
        (
            r"has no address",
            _("The customer has no address, and an invoice must show it: complete their record."),
        ),
        (
            r"identity is not set up",
            _("The café's identity is not set up (profiles/site.toml): ask the admin."),
        ),
        (
            r"a deposit is more than 0",
            _("A deposit is more than nothing and at most the whole quote."),
        ),
        (
            r"a deposit is asked on an accepted quote",
            _("A deposit is asked on an accepted quote."),
        ),
        (
            r"only a quote whose jobs were made is invoiced",
            _("Only a quote turned into jobs is invoiced (ask a deposit once it is accepted)."),
        ),
        (
            r"only an issued invoice with a balance due takes a payment",
            _("Only an issued invoice with something left to pay takes a payment."),
        ),
        (
            r"a credit note is not paid",
            _("A credit note is not paid: record the payment on the invoice."),
        ),
        (
            r"is not an issued credit note",
            _("A refund is recorded against an issued credit note."),
        ),
        (
            r"exceed what the invoice bills",
            _("The discounts and deposits deducted are more than what the invoice bills."),
        ),
        (
            r"cannot become|only a draft is issued|is not an issued invoice",
            _("Someone changed this record meanwhile: the page is up to date, look again."),
        ),
        (
            r"archived PDF .* is missing",
            _("The archived PDF is missing: run « fabqueue books verify » and tell the admin."),
        ),
    ]


def in_words(message: str, gettext: Gettext) -> str:
    for pattern, template in _rules(gettext):
        found = re.search(pattern, message)
        if found:
            values = {k: v.replace(".", ",") for k, v in found.groupdict().items()}
            return template % values if values else template
    return gettext("That did not work: %(detail)s") % {"detail": message}
