"""The quote workflow: requests, drafts and lines, pricing, sending, answers, PDF, conversion.

Every change of a quote's state goes through :func:`fabqueue.quotes.states.move`; the
services own the unit of work (they commit), the API's routers never do.
"""
