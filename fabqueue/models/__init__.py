"""SQLModel tables and their public shapes, one module per resource."""

from fabqueue.models.clients import ClientAccount, Organisation
from fabqueue.models.files import StoredFile
from fabqueue.models.jobs import (
    Job,
    JobEvent,
    JobEventPublic,
    JobPage,
    JobPublic,
    JobsPublic,
    JobSummary,
    Outcome,
)
from fabqueue.models.machines import MachinePublic, MachineRecord, RunnerState
from fabqueue.models.nodes import NodeLeaseRecord
from fabqueue.models.quotes import (
    JobActual,
    Quote,
    QuoteEvent,
    QuoteJob,
    QuoteLine,
    QuoteSequence,
    QuoteState,
)
from fabqueue.models.users import STAFF_ROLES, ApiToken, Role, User, UserPublic

__all__ = [
    "STAFF_ROLES",
    "ApiToken",
    "ClientAccount",
    "Job",
    "JobActual",
    "JobEvent",
    "JobEventPublic",
    "JobPage",
    "JobPublic",
    "JobSummary",
    "JobsPublic",
    "MachinePublic",
    "MachineRecord",
    "NodeLeaseRecord",
    "Organisation",
    "Outcome",
    "Quote",
    "QuoteEvent",
    "QuoteJob",
    "QuoteLine",
    "QuoteSequence",
    "QuoteState",
    "Role",
    "RunnerState",
    "StoredFile",
    "User",
    "UserPublic",
]
