"""Who may open a member's pages: members, and staff (who may use every machine)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from fabqueue.models import Role
from fabqueue.web.errors import NotAllowed
from fabqueue.web.page import Page, signed_in_page

HOME = "/member"


def member_page(page: Annotated[Page, Depends(signed_in_page)]) -> Page:
    if page.user is None or not (page.user.is_staff or page.user.role == Role.member):
        raise NotAllowed("member")
    return page


MemberPage = Annotated[Page, Depends(member_page)]


def refusal_words(message: str) -> str:
    """A rule's refusal as a sentence: the services word it in French, lower case first."""
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
