"""A shopkeeper's quote request from the public form, with no account.

One request makes (or finds) the client organisation and a quote in ``requested`` with
the files as its designs, in one transaction, after every file was stored and analysed
like a job's (same upload limit, same checks, same worker pool). A request that
attaches to an organisation already known (by SIRET, else by e-mail) is flagged for
staff to confirm on the quote desk: whoever types a SIRET is not proven to act for it.

Problems come back as codes with their values (:class:`RequestRefused`): the page says
them in the person's language, beside the field that caused them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Organisation, Quote, QuoteEvent, QuoteState, Role, User
from fabqueue.profiles import ProfileSet
from fabqueue.quotes.lines import PreparedDesign, design_line, prepare_design
from fabqueue.quotes.workflow import record_event
from fabqueue.services.accounts import AttemptLimiter
from fabqueue.services.clients import siret_ok
from fabqueue.services.errors import Invalid, ServiceError
from fabqueue.services.jobs import MAX_COPIES
from fabqueue.storage import FileStore
from fabqueue.workers import WorkerPool
from jobs.registry import file_type_of

FORM_ACTOR = "form"
"""The actor of what the public form does (``user:<id>``, ``link`` and ``system`` are
the others)."""
FORM_USER = "formulaire-devis"
"""The inactive account public requests are created under (a quote needs a creator);
nobody signs in with it."""
MAX_FILES = 5
WANTS = {
    "window_lettering": "Lettrage de vitrine",
    "stickers": "Autocollants",
    "embroidered_shirts": "Textiles brodés",
    "printed_parts": "Petites pièces imprimées en 3D",
    "other": "Autre demande",
}
"""What a shopkeeper may ask for, as the quote's title says it (in French: the devis is)."""
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
PHONE = re.compile(r"^\+?[\d\s.()-]{6,25}$")


@dataclass(frozen=True)
class Problem:
    code: str
    values: dict[str, Any] = field(default_factory=dict)


class RequestRefused(Invalid):
    """The request was not taken; nothing was kept. ``problems``: field → problem."""

    def __init__(self, problems: dict[str, Problem], status: int = 422) -> None:
        first = next(iter(problems.values()))
        super().__init__(f"quote request refused: {first.code}", problems=list(problems))
        self.problems = problems
        self.status_code = status


@dataclass(frozen=True)
class RequestForm:
    organisation: str
    contact_name: str
    email: str
    address: str = ""
    """Postal address, lines separated by newlines: a devis must show it."""
    phone: str = ""
    siret: str = ""
    wants: str = ""
    quantity: int | None = 1
    wanted_on: date | None = None
    details: str = ""
    consent: bool = False


@dataclass(frozen=True)
class Upload:
    filename: str
    stream: BinaryIO


@dataclass(frozen=True)
class Origin:
    """Where the request came from, kept in its event (abuse, and the client's consent)."""

    address: str
    user_agent: str


@dataclass(frozen=True)
class RequestTaken:
    quote_id: int
    organisation_id: int
    attached_by: str | None
    """"siret" or "email" when it joined a known organisation (staff confirm it)."""


# --- abuse ---------------------------------------------------------------------------


class RequestLimiter:
    """Requests per address in a sliding window (in memory, like the sign-in limits)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._seen = AttemptLimiter(limit=limit, window_s=window_s)

    def wait_s(self, address: str, now: float) -> float:
        """Seconds before ``address`` may ask again (0: now)."""
        return self._seen.blocked_for(address, now)

    def count(self, address: str, now: float) -> None:
        self._seen.failed(address, now)


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "exe"),
    (b"\x7fELF", "elf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"%PDF-", "pdf"),
    (b"PK\x03\x04", "zip"),
    (b"#!", "script"),
)
_CONTENT_OF_TYPE = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "gif": "gif", "pdf": "pdf"}
_ZIPPED_TYPES = frozenset({"3mf"})
_TEXT_TYPES = frozenset({"svg", "gcode", "gco", "g"})


def content_kind(head: bytes) -> str | None:
    """What the first bytes say the file is, when they say it clearly."""
    return next((kind for magic, kind in _SIGNATURES if head.startswith(magic)), None)


def disguise(filename: str, head: bytes) -> str | None:
    """The file's real kind when its name claims another (a program renamed ``.svg``)."""
    claimed = file_type_of(filename)
    actual = content_kind(head)
    if claimed in _ZIPPED_TYPES:
        return None if actual == "zip" else (actual or "unknown")
    expected = _CONTENT_OF_TYPE.get(claimed)
    if expected is not None:
        return None if actual == expected else (actual or "unknown")
    if actual is not None:
        return actual
    if claimed == "svg" and not head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return "unknown"
    if claimed in _TEXT_TYPES and b"\x00" in head:
        return "binary"
    return None


def _peek(stream: BinaryIO, size: int = 512) -> bytes:
    head = stream.read(size)
    stream.seek(0)
    return head


# --- the form ------------------------------------------------------------------------


def _check_identity(form: RequestForm, problems: dict[str, Problem]) -> None:
    if not form.organisation.strip():
        problems["organisation"] = Problem("organisation_missing")
    elif len(form.organisation.strip()) > 200:
        problems["organisation"] = Problem("too_long", {"max": 200})
    siret = re.sub(r"\s", "", form.siret)
    if siret and not siret_ok(siret):
        code = "siret_length" if not re.fullmatch(r"\d{14}", siret) else "siret_key"
        problems["siret"] = Problem(code, {"siret": form.siret.strip()})
    address = form.address.strip()
    if not address:
        problems["address"] = Problem("address_missing")
    elif len(address) > 500:
        problems["address"] = Problem("too_long", {"max": 500})
    if not form.contact_name.strip():
        problems["contact_name"] = Problem("contact_missing")
    elif len(form.contact_name.strip()) > 200:
        problems["contact_name"] = Problem("too_long", {"max": 200})
    email = form.email.strip()
    if not email:
        problems["email"] = Problem("email_missing")
    elif len(email) > 200 or not EMAIL.match(email):
        problems["email"] = Problem("email_invalid", {"email": email})
    if form.phone.strip() and not PHONE.match(form.phone.strip()):
        problems["phone"] = Problem("phone_invalid", {"phone": form.phone.strip()})


def check_form(form: RequestForm, today: date) -> dict[str, Problem]:
    """Every problem of the form's fields at once (the files are checked after)."""
    problems: dict[str, Problem] = {}
    _check_identity(form, problems)
    if form.wants not in WANTS:
        problems["wants"] = Problem("wants_missing")
    if form.quantity is None or not 1 <= form.quantity <= MAX_COPIES:
        problems["quantity"] = Problem("quantity_range", {"max": MAX_COPIES})
    if form.wanted_on is not None:
        if form.wanted_on < today:
            problems["wanted_on"] = Problem("date_past")
        elif form.wanted_on > today + timedelta(days=730):
            problems["wanted_on"] = Problem("date_far")
    if len(form.details) > 3000:
        problems["details"] = Problem("too_long", {"max": 3000})
    if not form.consent:
        problems["consent"] = Problem("consent_missing")
    return problems


def _prepare(
    uploads: list[Upload],
    *,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    upload_limit: int,
) -> list[tuple[str, PreparedDesign]]:
    if len(uploads) > MAX_FILES:
        raise RequestRefused({"files": Problem("too_many_files", {"max": MAX_FILES})})
    prepared = []
    for upload in uploads:
        name = upload.filename
        actual = disguise(name, _peek(upload.stream))
        if actual is not None:
            claimed = file_type_of(name).upper()
            said = {"name": name, "claimed": claimed, "actual": actual}
            raise RequestRefused({"files": Problem("file_disguised", said)})
        try:
            design = prepare_design(
                read_sessions=read_sessions, store=store, profiles=profiles, workers=workers,
                stream=upload.stream, filename=name, material=None, upload_limit=upload_limit,
            )  # fmt: skip
        except ServiceError as exc:
            why: dict[str, Any] = {"name": name, "reason": exc.message, "limit": upload_limit}
            code = "file_too_large" if exc.status_code == 413 else "file_refused"
            raise RequestRefused({"files": Problem(code, why)}, exc.status_code) from exc
        prepared.append((name, design))
    return prepared


# --- the records -----------------------------------------------------------------------


def form_user(session: Session, at: datetime) -> User:
    """The inactive account public requests are created under, made the first time."""
    found = session.exec(select(User).where(User.name == FORM_USER)).first()
    if found is not None:
        return found
    try:
        with session.begin_nested():
            user = User(name=FORM_USER, role=Role.client, active=False, created_at=at)
            session.add(user)
    except IntegrityError:  # another request made it meanwhile
        return session.exec(select(User).where(User.name == FORM_USER)).one()
    return user


def _known_organisation(
    session: Session, siret: str | None, email: str
) -> tuple[Organisation | None, str | None]:
    if siret:
        org = session.exec(
            select(Organisation).where(Organisation.siret == siret).order_by(col(Organisation.id))
        ).first()
        if org is not None:
            return org, "siret"
    org = session.exec(
        select(Organisation)
        .where(func.lower(Organisation.email) == email.lower())
        .order_by(col(Organisation.id))
    ).first()
    if org is not None and (not siret or org.siret in (None, siret)):
        return org, "email"
    return None, None


def _organisation(
    session: Session, form: RequestForm, at: datetime
) -> tuple[Organisation, str | None]:
    siret = re.sub(r"\s", "", form.siret) or None
    email = form.email.strip()
    org, attached_by = _known_organisation(session, siret, email)
    if org is not None:
        return org, attached_by
    org = Organisation(
        name=form.organisation.strip(),
        siret=siret,
        address=_address_lines(form.address),
        contact_name=form.contact_name.strip(),
        email=email,
        phone=form.phone.strip() or None,
        notes="Fiche créée par le formulaire de demande de devis.",
        created_at=at,
        updated_at=at,
    )
    session.add(org)
    session.flush()
    return org, None


def _address_lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _notes(form: RequestForm) -> str:
    parts = [f"Contact : {form.contact_name.strip()}, {form.email.strip()}"]
    if form.phone.strip():
        parts[0] += f", {form.phone.strip()}"
    if form.wanted_on is not None:
        parts.append(f"Souhaité pour le {form.wanted_on:%d/%m/%Y}.")
    if form.details.strip():
        parts.append(form.details.strip())
    return "\n".join(parts)[:4000]


def _title(form: RequestForm) -> str:
    what = WANTS.get(form.wants, WANTS["other"])
    copies = form.quantity or 1
    return f"{what} — {copies} ex." if copies > 1 else what


def submit_request(
    *,
    sessions: SessionFactory,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    form: RequestForm,
    uploads: list[Upload],
    origin: Origin,
    upload_limit: int,
    now: datetime,
    today: date,
) -> RequestTaken:
    problems = check_form(form, today)
    if problems:
        raise RequestRefused(problems)
    designs = _prepare(
        uploads, read_sessions=read_sessions, store=store, profiles=profiles,
        workers=workers, upload_limit=upload_limit,
    )  # fmt: skip
    site = profiles.site
    with session_scope(sessions) as session:
        creator = form_user(session, now)
        org, attached_by = _organisation(session, form, now)
        assert org.id is not None and creator.id is not None
        quote = Quote(
            organisation_id=org.id,
            state=QuoteState.requested,
            title=_title(form),
            request_notes=_notes(form),
            lead_time=site.quote_lead_time if site else "",
            payment_terms=site.payment_terms if site else "",
            validity_days=site.quote_validity_days if site else 30,
            created_by_id=creator.id,
            created_at=now,
            updated_at=now,
        )
        session.add(quote)
        session.flush()
        for name, design in designs:
            design_line(
                session, quote=quote, design=design, profiles=profiles, filename=name,
                quantity=form.quantity or 1, description=None, now=now,
            )  # fmt: skip
        record_event(
            session,
            quote,
            actor=FORM_ACTOR,
            action="created",
            at=now,
            to_state=QuoteState.requested,
            via="public_form",
            organisation=form.organisation.strip(),
            siret=re.sub(r"\s", "", form.siret) or None,
            contact_name=form.contact_name.strip(),
            postal_address=_address_lines(form.address),
            email=form.email.strip(),
            phone=form.phone.strip() or None,
            wants=form.wants,
            wanted_on=form.wanted_on.isoformat() if form.wanted_on else None,
            files=[name for name, _ in designs],
            consent_at=now.isoformat(),
            address=origin.address,
            user_agent=origin.user_agent[:300],
            attached_by=attached_by,
            to_confirm=attached_by is not None,
        )
        assert quote.id is not None
        return RequestTaken(quote.id, org.id, attached_by)


def request_origin(session: Session, quote_id: int) -> dict[str, Any] | None:
    """What the public form recorded when it made this quote (None: it did not)."""
    event = session.exec(
        select(QuoteEvent)
        .where(QuoteEvent.quote_id == quote_id)
        .where(QuoteEvent.actor == FORM_ACTOR)
        .where(QuoteEvent.action == "created")
    ).first()
    return dict(event.detail) if event is not None else None
