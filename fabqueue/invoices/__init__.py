"""Invoices, deposit invoices, credit notes, payments, their PDF with Factur-X, the
chained footprint and the accounting exports. Pages, the API and the CLI call these
services; nothing here talks to a machine."""
