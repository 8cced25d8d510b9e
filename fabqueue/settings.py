"""Service settings, read from the environment (prefix ``FABQUEUE_``) when built.

Nothing here runs at import time: ``Settings()`` is built by the CLI or by tests and
handed to ``create_app``.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FABQUEUE_", extra="ignore")

    db_url: str = "sqlite:///var/fabqueue.db"
    """SQLAlchemy URL. SQLite for one café; ``postgresql+psycopg://…`` for a network."""

    data_dir: Path = Path("var/data")
    """Uploaded files live here, named by their sha256."""

    profiles_dir: Path = Path("profiles")
    """Machine, material, price and site profiles (TOML)."""

    node: str = Field(default_factory=socket.gethostname)
    """This node's name. A node drives only the machines of its own profiles."""

    host: str = "127.0.0.1"
    port: int = 8000

    api_threads: int = Field(6, ge=2, le=64)
    """Threads for API handlers (file work runs in the worker processes instead)."""

    access_log: bool = False
    """Log every HTTP request (useful when debugging a client; noisy otherwise)."""

    upload_limit_bytes: int = 200 * 1024 * 1024
    """Uploads above this are refused with 413 while they stream in."""

    dispatch_poll_s: float = 1.0
    """Runners wake on events; this poll catches what events cannot (other nodes)."""

    progress_write_interval_s: float = 2.0
    """Progress is written to the database at most this often per machine."""

    offline_grace_s: float = 30.0
    """A machine unreachable this long while running a job interrupts the job."""

    secret_key: str | None = None
    """Signs the pages' session cookies. Unset: a random key kept in the data folder."""

    cookie_secure: bool | None = None
    """Session cookies only over HTTPS. Unset: when the request came over HTTPS (behind
    Caddy on the same computer, uvicorn trusts its X-Forwarded-Proto); set true when
    only HTTPS is ever used."""

    workers: int = Field(2, ge=1, le=64)
    """Worker processes for file analysis, conversion and previews (one per core)."""

    worker_cpu_s: int = Field(20, ge=1)
    """CPU seconds one file may cost a worker; a file over it is refused."""

    worker_memory_mb: int = Field(1024, ge=256)
    """Memory (address space) of each worker; a file needing more is refused."""

    worker_queue: int = Field(16, ge=1)
    """Files that may wait for a worker; past that an upload gets 503 (try again)."""

    lease_heartbeat_s: float = Field(10.0, gt=0)
    """How often the process holding the node's lease notes it is alive."""

    node_offline_after_s: float | None = Field(None, gt=0)
    """A node whose last heartbeat is older than this is shown offline, and staff may
    take its work back (default: three heartbeats)."""

    @property
    def offline_after_s(self) -> float:
        return self.node_offline_after_s or 3 * self.lease_heartbeat_s

    start_dispatcher: bool = True

    storage: Literal["local", "database"] = "local"
    """Where uploaded files live: the data folder (one node), or the PostgreSQL database
    (a network: every node reads every job's file)."""

    storage_cache_bytes: int = Field(2 * 1024**3, ge=0)
    """With the database store, files this node used are kept on disk up to this size."""

    file_missing_tries: int = Field(3, ge=1)
    """A job whose file cannot be found is put back this many times, then fails."""
    """Tests of the API alone turn the dispatcher off."""

    @field_validator("upload_limit_bytes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value
