"""Users and API tokens.

Tokens are random (256 bits), shown once, and stored as their sha256: with that much
entropy a slow password hash adds nothing, and checking one stays a single indexed
lookup per request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import datetime

from sqlmodel import Session, col, select

from fabqueue.models import ApiToken, Role, User
from fabqueue.services.errors import Conflict, Invalid, NotFound

TOKEN_PREFIX = "fq_"
SHOWN_PREFIX = len(TOKEN_PREFIX) + 8
"""Characters of a token kept in clear to recognise it: 48 of its 256 random bits."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_user(*, session: Session, name: str, role: Role, at: datetime) -> User:
    name = name.strip()
    if not name:
        raise Invalid("a user needs a name")
    if session.exec(select(User).where(User.name == name)).first():
        raise Conflict(f"there is already a user called {name!r}")
    user = User(name=name, role=role, created_at=at)
    session.add(user)
    session.flush()
    return user


def issue_token(*, session: Session, user: User, label: str, at: datetime) -> str:
    """Create a token for ``user`` and return it; only its hash is kept."""
    assert user.id is not None
    token = new_token()
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hash_token(token),
            label=label,
            prefix=token[:SHOWN_PREFIX],
            created_at=at,
        )
    )
    session.flush()
    return token


def find_user(session: Session, key: str | int) -> User:
    """A user by id, or by name (the CLI's way)."""
    if isinstance(key, int):
        user = session.get(User, key)
    else:
        user = session.exec(select(User).where(User.name == key)).first()
    if user is None:
        raise NotFound(f"no user {key!r}" if isinstance(key, str) else f"no user {key}")
    return user


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.exec(select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.id)))
    )


def matching_tokens(
    session: Session,
    user: User,
    *,
    token_id: int | None = None,
    prefix: str | None = None,
    label: str | None = None,
) -> list[ApiToken]:
    """``user``'s tokens that match every criterion given (at least one is needed)."""
    if token_id is None and not prefix and label is None:
        raise Invalid("say which token: its id, its prefix (fq_…) or its label")
    if prefix is not None and len(prefix) < len(TOKEN_PREFIX) + 4:
        raise Invalid(f"a prefix needs at least {len(TOKEN_PREFIX) + 4} characters (fq_ and 4)")
    found = [
        t
        for t in tokens_of(session, user)
        if (token_id is None or t.id == token_id)
        and (prefix is None or _prefix_matches(t, prefix))
        and (label is None or t.label == label)
    ]
    if not found:
        raise NotFound(f"{user.name} has no such token")
    return found


def _prefix_matches(token: ApiToken, given: str) -> bool:
    """``given`` is the start of the token, or the whole token."""
    if len(given) > SHOWN_PREFIX and given.startswith(TOKEN_PREFIX) and len(given) >= 40:
        return token.token_hash == hash_token(given)
    return token.prefix is not None and token.prefix.startswith(given[:SHOWN_PREFIX])


def revoke_tokens(tokens: list[ApiToken], at: datetime) -> list[ApiToken]:
    """Revoke ``tokens``; those already revoked keep their first revocation time."""
    for token in tokens:
        if token.revoked_at is None:
            token.revoked_at = at
    return tokens


def deactivate_user(session: Session, user: User, at: datetime) -> User:
    """The user can no longer sign in with any token; their jobs and quotes stay."""
    user.active = False
    session.add(user)
    revoke_tokens([t for t in tokens_of(session, user) if t.revoked_at is None], at)
    session.flush()
    return user


def user_for_token(session: Session, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.exec(
        select(User)
        .join(ApiToken, col(ApiToken.user_id) == col(User.id))
        .where(ApiToken.token_hash == hash_token(token))
        .where(col(ApiToken.revoked_at).is_(None))
        .where(col(User.active).is_(True))
    ).first()
    return row


class TokenCache:
    """Recently checked tokens, so each API call does not cost a database read.

    A revoked token or a deactivated user is refused at most ``ttl_s`` later.
    """

    def __init__(self, ttl_s: float = 10.0, max_entries: int = 1000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, User]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, now: float) -> User | None:
        with self._lock:
            entry = self._entries.get(hash_token(token))
        if entry is None or now - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def put(self, token: str, user: User, now: float) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[hash_token(token)] = (now, user)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def revoke_by_id(session: Session, *, user_id: int, token_id: int, at: datetime) -> ApiToken:
    """The admin API's revocation: one token of one user, committed."""
    user = find_user(session, user_id)
    (token,) = matching_tokens(session, user, token_id=token_id)
    revoke_tokens([token], at)
    session.commit()
    return token


def deactivate(session: Session, *, user_id: int, by: User, at: datetime) -> User:
    """The admin API's deactivation, committed. Nobody deactivates themselves: the last
    admin would lock everyone out of user management."""
    user = find_user(session, user_id)
    if user.id == by.id:
        raise Conflict("you cannot deactivate yourself; another admin can")
    deactivate_user(session, user, at)
    session.commit()
    return user


TICKET_PREFIX = "fqt_"


class StreamTickets:
    """Short-lived, single-use tickets for the event stream.

    Browsers' ``EventSource`` cannot send headers, so the credential must travel in the
    URL, where proxies and access logs keep it: a ticket that opens one connection within
    ``ttl_s`` is worth little to whoever reads it later. Tickets live in this process
    only, like the connections they open.
    """

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, User]] = {}
        self._lock = threading.Lock()

    def issue(self, user: User, now: float) -> str:
        ticket = TICKET_PREFIX + secrets.token_urlsafe(24)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._drop_expired(now)
            self._entries[hash_token(ticket)] = (now, user)
        return ticket

    def take(self, ticket: str, now: float) -> User | None:
        """The ticket's user, once: the ticket is spent whether or not it was still valid."""
        with self._lock:
            entry = self._entries.pop(hash_token(ticket), None)
        if entry is None or now - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def _drop_expired(self, now: float) -> None:
        for key, (at, _user) in list(self._entries.items()):
            if now - at > self.ttl_s:
                del self._entries[key]
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
