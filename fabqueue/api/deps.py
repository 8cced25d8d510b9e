"""Dependencies: the app context, a session, and who is asking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request, status
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from fabqueue.auth import user_for_token
from fabqueue.context import AppContext
from fabqueue.models import Role, User
from fabqueue.models.types import MAX_ID as MAX_ID


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


IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def bearer_token(authorization: str | None, x_api_key: str | None) -> str | None:
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return x_api_key or None


def _lookup(ctx: AppContext, token: str) -> User | None:
    with ctx.read_sessions() as session:
        user = user_for_token(session, token)
        if user is not None:
            session.expunge(user)
        return user


async def user_for(ctx: AppContext, token: str) -> User | None:
    """The active user of an unrevoked ``token`` (cached for a few seconds), else None."""
    now = ctx.clock.monotonic()
    user = ctx.tokens.get(token, now)
    if user is None:
        user = await run_in_threadpool(_lookup, ctx, token)
        if user is not None:
            ctx.tokens.put(token, user, now)
    return user


async def optional_user(
    ctx: CtxDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> User | None:
    """Who is asking, or None: the one place a request's credentials become a user.

    Bearer token (scripts) or X-Api-Key (slicers' OctoPrint upload); a browser's session
    cookie is to be resolved here too, so every route sees it the same way.
    """
    token = bearer_token(authorization, x_api_key)
    return await user_for(ctx, token) if token else None


def unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a valid API token is needed (Authorization: Bearer <token>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise unauthorized()
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def staff_user(user: CurrentUser) -> User:
    if not user.is_staff:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="staff only (facilitator or admin)")
    return user


StaffUser = Annotated[User, Depends(staff_user)]


async def admin_user(user: CurrentUser) -> User:
    if user.role != Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="admins only")
    return user


AdminUser = Annotated[User, Depends(admin_user)]
