"""The admins' people desk: create someone, change their role, give them a new
password, deactivate them. The same rules whoever asks (pages, API, CLI).

A password made here is a one-time password: shown once to the admin, who hands it
over; only its argon2id hash is kept.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from fabqueue import auth
from fabqueue.models import Role, User
from fabqueue.services.accounts import hash_secret
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound
from fabqueue.services.privacy import ERASED_PREFIX

# No 0/O, 1/l/I: the admin reads it aloud or writes it on paper.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS, _GROUP_LEN = 3, 4


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    role: Role
    active: bool
    can_sign_in: bool
    """A password is set: the pages are open to them."""
    erased: bool


MAX_NAME = 120


def _role_given_here(role: Role) -> None:
    # A client account belongs to an organisation: it is made from the organisation
    # (POST /api/v1/clients/{id}/users), which links the two.
    if role == Role.client:
        raise Invalid("client accounts are made from their organisation")


def _admin(by: User) -> None:
    if by.role != Role.admin:
        raise Forbidden("réservé aux administrateurs")


def one_time_password() -> str:
    """Three groups of four characters, e.g. ``k7mq-3xte-9hra`` (14 characters, about
    59 bits): long enough for the sign-in rule, easy to copy from a screen."""
    return "-".join(
        "".join(secrets.choice(_ALPHABET) for _ in range(_GROUP_LEN)) for _ in range(_GROUPS)
    )


def _person(user: User) -> Person:
    assert user.id is not None
    return Person(
        id=user.id,
        name=user.name,
        role=user.role,
        active=user.active,
        can_sign_in=user.password_hash is not None,
        erased=user.name.startswith(ERASED_PREFIX),
    )


def people(session: Session, by: User) -> list[Person]:
    """Everyone, active first, then by name."""
    _admin(by)
    rows = session.exec(select(User).order_by(col(User.active).desc(), col(User.name)))
    return [_person(u) for u in rows]


def get(session: Session, user_id: int, by: User) -> Person:
    _admin(by)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return _person(user)


def create(
    session: Session, *, name: str, role: Role, by: User, at: datetime
) -> tuple[Person, str]:
    """A new person who can sign in at once with the one-time password returned."""
    _admin(by)
    _role_given_here(role)
    if len(name.strip()) > MAX_NAME:
        raise Invalid(f"a name has at most {MAX_NAME} characters")
    user = auth.create_user(session=session, name=name, role=role, at=at)
    password = one_time_password()
    user.password_hash = hash_secret(password)
    session.add(user)
    session.commit()
    return _person(user), password


def _other(session: Session, user_id: int, by: User, doing: str) -> User:
    _admin(by)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    # The last admin demoting or deactivating themself would lock everyone out.
    if user.id == by.id:
        raise Conflict(f"you cannot {doing} yourself; another admin can")
    return user


def set_role(session: Session, *, user_id: int, role: Role, by: User) -> Person:
    user = _other(session, user_id, by, "change the role of")
    _role_given_here(role)
    if user.role == Role.client:
        raise Conflict("a client account stays a client account")
    if not user.active:
        raise Conflict("this account is deactivated")
    user.role = role
    session.add(user)
    session.commit()
    return _person(user)


def reset_password(session: Session, *, user_id: int, by: User) -> tuple[Person, str]:
    """A new one-time password; the old one stops working at once."""
    _admin(by)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    if not user.active:
        raise Conflict("this account is deactivated")
    password = one_time_password()
    user.password_hash = hash_secret(password)
    session.add(user)
    session.commit()
    return _person(user), password


def deactivate(session: Session, *, user_id: int, by: User, at: datetime) -> Person:
    """They cannot sign in any more and every API token of theirs is revoked."""
    user = _other(session, user_id, by, "deactivate")
    if not user.active:
        raise Conflict("this account is already deactivated")
    auth.deactivate_user(session, user, at)
    session.commit()
    return _person(user)
