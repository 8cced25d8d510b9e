"""Printers behind OctoPrint: octorest behind a wrapper, and the driver."""

from drivers.octoprint.driver import OctoPrintConfig, OctoPrintDriver

__all__ = ["OctoPrintConfig", "OctoPrintDriver"]
