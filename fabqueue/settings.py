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
    """CPU seconds one file may cost a worker, plus ``worker_cpu_s_per_mb`` for each
    megabyte of the file; a file over it is refused."""

    worker_cpu_s_per_mb: float = Field(1.0, ge=0)
    """More CPU seconds per megabyte: a 50 MB G-code takes ~11 s to read on a fast
    computer, and several times that on a small one."""

    worker_memory_mb: int = Field(1024, ge=256)
    """Memory (address space) of each worker; a file needing more is refused."""

    worker_queue: int = Field(16, ge=1)
    """Files that may wait for a worker; past that an upload gets 503 (try again)."""

    driver_processes: bool = True
    """Serial printers and cutters run in a process each, so a busy server never delays
    their stream (False: in the server's process, as tests of one driver do)."""

    slicer_workers: int = Field(1, ge=1, le=16)
    """Models sliced at the same time (each PrusaSlicer takes a core and up to 3 GB)."""

    lease_heartbeat_s: float = Field(10.0, gt=0)
    """How often the process holding the node's lease notes it is alive."""

    quote_request_limit: int = Field(5, ge=1)
    """Quote requests the public form takes from one address per window; more get 429."""

    quote_request_window_s: float = Field(3600.0, gt=0)

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

    mail_host: str | None = None
    """SMTP server for e-mails (else site.toml's ``[mail]``; neither: notices on pages only)."""
    mail_port: int | None = None
    mail_user: str | None = None
    mail_password: str | None = None
    mail_from: str | None = None
    mail_starttls: bool | None = None
    mail_max_tries: int = Field(6, ge=1)
    """An e-mail is tried this many times (backoff 1, 2, 4… minutes), then marked failed."""
    mail_poll_s: float = Field(30.0, gt=0)
    """The sender wakes on new messages; this poll catches retries and other nodes'."""
    mail_scan_s: float = Field(3600.0, gt=0)
    """How often reminders (quote about to expire, booking tomorrow) are looked for."""
    start_mail_sender: bool = True

    file_missing_tries: int = Field(3, ge=1)
    """A job whose file cannot be found is put back this many times, then fails."""
    """Tests of the API alone turn the dispatcher off."""

    @field_validator("upload_limit_bytes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value
