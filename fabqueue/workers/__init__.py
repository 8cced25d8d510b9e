"""A bounded pool of sandboxed worker processes: every analysis, conversion and preview
of an uploaded file runs there, under a CPU-time and a memory limit, never in the API's
threads or on the event loop."""

from fabqueue.workers.pool import MODELS_LANE, PoolBusy, WorkerLimits, WorkerPool, WorkFailed

__all__ = ["MODELS_LANE", "PoolBusy", "WorkFailed", "WorkerLimits", "WorkerPool"]
