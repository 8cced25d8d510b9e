"""SQLModel tables and their public shapes, one module per resource."""

from fabqueue.models.bookings import (
    BlockedTime,
    Booking,
    BookingAction,
    BookingEvent,
    CalendarToken,
)
from fabqueue.models.clients import ClientAccount, Organisation
from fabqueue.models.files import FileBlob, FileChunk, StoredFile
from fabqueue.models.invoices import (
    Invoice,
    InvoiceEvent,
    InvoiceJob,
    InvoiceLine,
    InvoiceSequence,
    Payment,
)
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
from fabqueue.models.machines import (
    Machine,
    MachineEvent,
    MachineEventPublic,
    MachinePublic,
    MachineRecord,
    RunnerState,
)
from fabqueue.models.nodes import NodeLeaseRecord
from fabqueue.models.notifications import MailPreference, MailState, NoticeKind, Notification
from fabqueue.models.quotes import (
    JobActual,
    Quote,
    QuoteEvent,
    QuoteJob,
    QuoteLine,
    QuoteSequence,
    QuoteState,
)
from fabqueue.models.trainings import Authorisation, Enrolment, Training, TrainingSession
from fabqueue.models.users import STAFF_ROLES, ApiToken, ApiTokenPublic, Role, User, UserPublic

__all__ = [
    "STAFF_ROLES",
    "ApiToken",
    "ApiTokenPublic",
    "Authorisation",
    "BlockedTime",
    "Booking",
    "BookingAction",
    "BookingEvent",
    "CalendarToken",
    "ClientAccount",
    "Enrolment",
    "FileBlob",
    "FileChunk",
    "Invoice",
    "InvoiceEvent",
    "InvoiceJob",
    "InvoiceLine",
    "InvoiceSequence",
    "Job",
    "JobActual",
    "JobEvent",
    "JobEventPublic",
    "JobPage",
    "JobPublic",
    "JobSummary",
    "JobsPublic",
    "Machine",
    "MachineEvent",
    "MachineEventPublic",
    "MachinePublic",
    "MachineRecord",
    "MailPreference",
    "MailState",
    "NodeLeaseRecord",
    "NoticeKind",
    "Notification",
    "Organisation",
    "Outcome",
    "Payment",
    "Quote",
    "QuoteEvent",
    "QuoteJob",
    "QuoteLine",
    "QuoteSequence",
    "QuoteState",
    "Role",
    "RunnerState",
    "StoredFile",
    "Training",
    "TrainingSession",
    "User",
    "UserPublic",
]
