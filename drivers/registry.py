"""Driver name (a profile's ``[driver] type``) -> driver class. One explicit table."""

from __future__ import annotations

from typing import Any

from drivers.base import Driver
from drivers.embroidery_folder import EmbroideryFolderDriver
from drivers.hpgl_serial import HpglSerialDriver
from drivers.marlin.driver import MarlinSerialDriver
from drivers.octoprint.driver import OctoPrintDriver
from drivers.sim import SimDriver

DRIVERS: dict[str, type[Driver[Any]]] = {
    SimDriver.name: SimDriver,
    HpglSerialDriver.name: HpglSerialDriver,
    EmbroideryFolderDriver.name: EmbroideryFolderDriver,
    MarlinSerialDriver.name: MarlinSerialDriver,
    OctoPrintDriver.name: OctoPrintDriver,
}
