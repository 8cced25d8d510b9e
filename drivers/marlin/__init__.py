"""Marlin firmware over a serial line: protocol, line stream, state, job, file, the driver."""

from drivers.marlin.config import MarlinSerialConfig
from drivers.marlin.driver import MarlinSerialDriver

__all__ = ["MarlinSerialConfig", "MarlinSerialDriver"]
