"""Process tuning belongs to ``fabqueue serve``, which owns its process, not to
``create_app``, which tests and embedders build inside theirs."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import anyio
import anyio.to_thread
import pytest

from fabqueue.cli.serve import tune_process
from fabqueue.settings import Settings
from tests.conftest import Api


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_create_app_leaves_the_process_alone(restore_gc: None, make_api) -> None:
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    api: Api = make_api()
    assert api.client.get("/api/v1/health").status_code == 200
    assert gc.get_threshold() == threshold
    assert gc.get_freeze_count() == frozen


def test_serve_tunes_the_collector_and_the_thread_pool(
    restore_gc: None, settings: Settings
) -> None:
    wanted = settings.model_copy(update={"api_threads": 5})

    async def main() -> float:
        tune_process(wanted)
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    assert anyio.run(main) == 5
    assert gc.get_threshold()[0] == 20_000
    assert gc.get_freeze_count() > 0
