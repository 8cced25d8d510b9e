"""Staff pages for the money side: invoices, credit notes, payments, the accountant's
exports, and the activity reports. The services in ``fabqueue.invoices`` and
``fabqueue.reports`` do the work."""
