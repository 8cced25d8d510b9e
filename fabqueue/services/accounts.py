"""Signing in to the pages: passwords and counter PINs (argon2id), and who may try.

API tokens stay in :mod:`fabqueue.auth`; this module is only about people at a screen.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import Session, select

from fabqueue.models import User
from fabqueue.services.errors import Invalid, NotFound

MIN_PASSWORD = 10
PIN_DIGITS = range(4, 9)

_hasher = PasswordHash((Argon2Hasher(),))
# A name that does not exist still costs one hash, so timing does not tell who exists.
_DUMMY = _hasher.hash("not a password of anyone")


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret: str, hashed: str | None) -> bool:
    if hashed is None:
        _hasher.verify(secret, _DUMMY)
        return False
    return _hasher.verify(secret, hashed)


def _user(session: Session, name: str) -> User:
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(f"no user {name!r}")
    return user


def set_password(*, session: Session, name: str, password: str) -> User:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"a password needs at least {MIN_PASSWORD} characters")
    user = _user(session, name)
    user.password_hash = hash_secret(password)
    session.add(user)
    session.flush()
    return user


def set_pin(*, session: Session, name: str, pin: str) -> User:
    if not (pin.isdigit() and len(pin) in PIN_DIGITS):
        raise Invalid("a PIN is 4 to 8 digits")
    user = _user(session, name)
    user.pin_hash = hash_secret(pin)
    session.add(user)
    session.flush()
    return user


def set_locale(*, session: Session, user_id: int, locale: str | None) -> None:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    user.locale = locale
    session.add(user)
    session.commit()


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The active user with this name and password, or None (same cost either way)."""
    user = session.exec(select(User).where(User.name == name.strip())).first()
    hashed = user.password_hash if user is not None and user.active else None
    if not verify_secret(password, hashed) or user is None:
        return None
    return user


def check_pin(session: Session, user_id: int, pin: str) -> bool:
    user = session.get(User, user_id)
    hashed = user.pin_hash if user is not None and user.active else None
    return verify_secret(pin, hashed)


@dataclass
class AttemptLimiter:
    """Failed sign-ins per key (a name, an address) in a sliding window.

    In memory: one node serves a café's tablets, and a restart forgiving a few tries
    costs little next to argon2's price per guess.
    """

    limit: int
    window_s: float
    _fails: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> deque[float]:
        fails = self._fails.setdefault(key, deque())
        while fails and now - fails[0] > self.window_s:
            fails.popleft()
        return fails

    def blocked_for(self, key: str, now: float | None = None) -> float:
        """Seconds until ``key`` may try again (0: it may now)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            fails = self._recent(key, now)
            if len(fails) < self.limit:
                return 0.0
            return self.window_s - (now - fails[0])

    def failed(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent(key, now).append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)
