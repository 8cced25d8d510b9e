"""Dependencies: the app context, a session, and who is asking."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, status
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from fabqueue.auth import user_for_token
from fabqueue.context import AppContext
from fabqueue.models import User


async def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: CtxDep) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


def get_read_session(ctx: CtxDep) -> Iterator[Session]:
    with ctx.read_sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
"""A session that may write (on SQLite it queues for the write lock when it begins)."""
ReadSessionDep = Annotated[Session, Depends(get_read_session)]
"""A read-only session: never waits for writers."""


def _token(authorization: str | None, x_api_key: str | None, query: str | None) -> str | None:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value:
            return value.strip()
    return x_api_key or query


def _lookup(ctx: AppContext, token: str) -> User | None:
    with ctx.read_sessions() as session:
        user = user_for_token(session, token)
        if user is not None:
            session.expunge(user)
        return user


async def current_user(
    ctx: CtxDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
    access_token: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> User:
    """Bearer token (scripts), X-Api-Key (slicers' OctoPrint upload), or ?access_token=
    (browsers' EventSource cannot send headers)."""
    token = _token(authorization, x_api_key, access_token)
    user = None
    if token:
        now = time.monotonic()
        user = ctx.tokens.get(token, now)
        if user is None:
            user = await run_in_threadpool(_lookup, ctx, token)
            if user is not None:
                ctx.tokens.put(token, user, now)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid API token is needed (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def staff_user(user: CurrentUser) -> User:
    if not user.is_staff:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="staff only (facilitator or admin)")
    return user


StaffUser = Annotated[User, Depends(staff_user)]
