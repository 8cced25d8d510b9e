from __future__ import annotations

from fastapi import APIRouter

from fabqueue.api.deps import CurrentUser
from fabqueue.models import UserPublic

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user, from_attributes=True)
