"""Who am I; and for admins: users, their tokens (never the secrets), revocation."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import col, select

from fabqueue import auth
from fabqueue.api.deps import AdminUser, CtxDep, CurrentUser, IdPath, ReadSessionDep, SessionDep
from fabqueue.models import ApiTokenPublic, User, UserPublic

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)


@router.get("", response_model=list[UserPublic])
def list_users(session: ReadSessionDep, _admin: AdminUser) -> list[UserPublic]:
    return [
        UserPublic.model_validate(u, from_attributes=True)
        for u in session.exec(select(User).order_by(col(User.name)))
    ]


@router.get("/{user_id}/tokens", response_model=list[ApiTokenPublic])
def list_tokens(
    user_id: IdPath, session: ReadSessionDep, _admin: AdminUser
) -> list[ApiTokenPublic]:
    user = auth.find_user(session, user_id)
    return [
        ApiTokenPublic.model_validate(t, from_attributes=True)
        for t in auth.tokens_of(session, user)
    ]


@router.delete("/{user_id}/tokens/{token_id}", response_model=ApiTokenPublic)
def revoke_token(
    user_id: IdPath, token_id: IdPath, ctx: CtxDep, session: SessionDep, _admin: AdminUser
) -> ApiTokenPublic:
    """The token stops working at once on this server (within 10 s on other nodes)."""
    token = auth.revoke_by_id(session, user_id=user_id, token_id=token_id, at=ctx.clock.now())
    ctx.tokens.clear()
    return ApiTokenPublic.model_validate(token, from_attributes=True)


@router.post("/{user_id}/deactivate", response_model=UserPublic)
def deactivate(user_id: IdPath, ctx: CtxDep, session: SessionDep, admin: AdminUser) -> UserPublic:
    """Every token of the user is revoked; their jobs, quotes and history stay."""
    user = auth.deactivate(session, user_id=user_id, by=admin, at=ctx.clock.now())
    ctx.tokens.clear()
    return UserPublic.model_validate(user, from_attributes=True)
