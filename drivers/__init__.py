"""How to talk to a machine: one driver per module, chosen by a profile's ``[driver] type``.

Drivers know a :class:`~drivers.base.JobTicket` and push
:class:`~drivers.base.MachineStatus` snapshots; they never touch the database.
"""
