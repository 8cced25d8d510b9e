"""The parts of a machine profile that file analysis needs, one model per machine kind.

``fabqueue``'s profile loader parses a machine profile's ``[printer]``, ``[cutter]`` or
``[embroidery]`` table into these models, and analyzers receive them as plain data.
"""

from jobs.params.cutter import CutterParams
from jobs.params.embroidery import EmbroideryParams, Hoop
from jobs.params.printer import PrinterParams

MachineParams = PrinterParams | CutterParams | EmbroideryParams

__all__ = ["CutterParams", "EmbroideryParams", "Hoop", "MachineParams", "PrinterParams"]
