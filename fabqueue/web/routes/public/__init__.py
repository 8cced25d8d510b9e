"""Pages for people without an account: the quote-request form and the devis behind its
secret link. French first (English when the browser asks); CSRF and an idempotency key
on every form, as everywhere; no session needed beyond the CSRF cookie."""

from __future__ import annotations

from fastapi import APIRouter

from fabqueue.web.routes.public import devis, request_form

router = APIRouter()
router.include_router(request_form.router)
router.include_router(devis.router)

__all__ = ["router"]
