"""A driver run in a process of its own, behind the same :class:`drivers.base.Driver`
face: the serial drivers stream lines on a timetable the firmware sets, and in the
server's process they share one interpreter lock with fifty readers being answered.

See :mod:`drivers.hosted.parent` (the face the dispatcher talks to) and
:mod:`drivers.hosted.child` (the process).
"""

from drivers.hosted.parent import HostedDriver, in_own_process

__all__ = ["HostedDriver", "in_own_process"]
