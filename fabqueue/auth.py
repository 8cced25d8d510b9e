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
from fabqueue.services.errors import Conflict, Invalid

TOKEN_PREFIX = "fq_"


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
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), label=label, created_at=at))
    session.flush()
    return token


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
