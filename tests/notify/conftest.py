"""Fixtures of the notification tests: the quote tests' café with a public address,
a real SMTP server, a clock moved by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.notify import T0, cafe_profiles
from tests.support.quotes import SetClock
from tests.support.smtp import SmtpServer, smtp_server


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    return cafe_profiles(tmp_path / "profiles")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def clock() -> SetClock:
    return SetClock(T0)
