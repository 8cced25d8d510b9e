"""``check-profiles`` for the pages: the problems in the profile files as they are on
disk now (the running service keeps the set it started with)."""

from __future__ import annotations

from pathlib import Path

from fabqueue.profiles import ProfileErrors, load_profiles
from fabqueue.profiles.loader import ProfileError


def problems(root: Path | None) -> list[ProfileError]:
    if root is None:
        return []
    try:
        load_profiles(root)
    except ProfileErrors as exc:
        return list(exc.errors)
    return []
