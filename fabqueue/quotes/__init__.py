"""The quote workflow: requests, drafts and lines, pricing, sending, answers, PDF, conversion.

Every change of a quote's state goes through :func:`fabqueue.quotes.workflow.move`.
"""
