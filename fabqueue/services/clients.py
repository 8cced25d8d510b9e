"""Client organisations and their users. Staff manage them; a client sees its own."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from fabqueue.auth import create_user, issue_token
from fabqueue.models import ClientAccount, Organisation, Role, User
from fabqueue.models.clients import (
    ClientUserIn,
    ClientUserPublic,
    OrganisationIn,
    OrganisationPublic,
)
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.site import luhn_ok
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound

LA_POSTE_SIREN = "356000000"


def siret_ok(siret: str) -> bool:
    """14 digits whose SIREN (the first 9) and whole number pass the Luhn check.

    La Poste is the known exception: its 10,000+ establishments share one SIREN, so
    their NICs cannot all keep the Luhn key: for them the digits' sum is a multiple of 5
    instead (the head office, 356 000 000 00048, keeps the Luhn key).
    """
    if not re.fullmatch(r"\d{14}", siret):
        return False
    if luhn_ok(siret[:9]) and luhn_ok(siret):
        return True
    return siret.startswith(LA_POSTE_SIREN) and sum(int(d) for d in siret) % 5 == 0


def organisation_of(session: Session, user: User) -> Organisation | None:
    """The organisation a client user acts for (None for staff and members)."""
    if user.role != Role.client:
        return None
    account = session.get(ClientAccount, user.id)
    return session.get(Organisation, account.organisation_id) if account else None


def require_organisation(session: Session, user: User) -> Organisation:
    org = organisation_of(session, user)
    if org is None:
        raise Forbidden(
            "this client account belongs to no organisation yet; ask the café to link it"
        )
    return org


def get_organisation(session: Session, org_id: int, user: User) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"no client organisation {org_id}")
    if user.is_staff:
        return org
    own = organisation_of(session, user)
    if own is None or own.id != org.id:
        # The answer for an organisation that does not exist: ids are not to be probed.
        raise NotFound(f"no client organisation {org_id}")
    return org


def list_organisations(session: Session, *, include_inactive: bool = False) -> list[Organisation]:
    query = select(Organisation)
    if not include_inactive:
        query = query.where(col(Organisation.active).is_(True))
    return list(session.exec(query.order_by(col(Organisation.name))))


def _clean(data: OrganisationIn, profiles: ProfileSet) -> dict[str, object]:
    values = data.model_dump(exclude={"adjustment_percent"})
    if data.siret:
        siret = re.sub(r"\s", "", data.siret)
        if not siret_ok(siret):
            raise Invalid(f"{data.siret!r} is not a valid SIRET (14 digits, check digit)")
        values["siret"] = siret
    if data.price_group is not None and data.price_group not in profiles.prices.groups:
        known = ", ".join(sorted(profiles.prices.groups)) or "none"
        raise Invalid(f"no price group {data.price_group!r} in prices.toml; known: {known}")
    pct = data.adjustment_percent
    values["adjustment_bp"] = None if pct is None else int(pct * 100)
    values["name"] = data.name.strip()
    if not values["name"]:
        raise Invalid("an organisation needs a name")
    return values


def _check_prices(by: User | None, data: OrganisationIn, org: Organisation | None) -> None:
    """A client's prices (price group, adjustment) are set by admins; staff edit the rest."""
    if by is None or by.role == Role.admin:
        return
    before_group = org.price_group if org else None
    before_bp = org.adjustment_bp if org else None
    pct = data.adjustment_percent
    if data.price_group != before_group or (None if pct is None else int(pct * 100)) != before_bp:
        raise Forbidden("only an admin sets a client's price group or price adjustment")


def create_organisation(
    *,
    session: Session,
    data: OrganisationIn,
    profiles: ProfileSet,
    at: datetime,
    by: User | None = None,
) -> Organisation:
    _check_prices(by, data, None)
    org = Organisation(**_clean(data, profiles), created_at=at, updated_at=at)  # type: ignore[arg-type]
    session.add(org)
    session.commit()
    return org


def update_organisation(
    *,
    session: Session,
    org_id: int,
    data: OrganisationIn,
    profiles: ProfileSet,
    at: datetime,
    by: User | None = None,
) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"no client organisation {org_id}")
    _check_prices(by, data, org)
    for name, value in _clean(data, profiles).items():
        setattr(org, name, value)
    org.updated_at = at
    session.add(org)
    session.commit()
    return org


def to_public(org: Organisation) -> OrganisationPublic:
    pct = None if org.adjustment_bp is None else Decimal(org.adjustment_bp) / 100
    return OrganisationPublic.model_validate(
        {**org.model_dump(), "adjustment_percent": pct}, from_attributes=False
    )


def add_user(
    *, session: Session, org_id: int, data: ClientUserIn, at: datetime
) -> ClientUserPublic:
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"no client organisation {org_id}")
    assert org.id is not None
    token = None
    if (data.name is None) == (data.user_id is None):
        raise Invalid("give either the name of a new client user or an existing user_id")
    if data.user_id is not None:
        found = session.get(User, data.user_id)
        if found is None:
            raise NotFound(f"no user {data.user_id}")
        if found.role != Role.client:
            raise Invalid(
                f"{found.name} is a {found.role.value}; only client users join an organisation"
            )
        user = found
    else:
        assert data.name is not None
        user = create_user(session=session, name=data.name, role=Role.client, at=at)
        token = issue_token(session=session, user=user, label=f"client of {org.name}", at=at)
    assert user.id is not None
    account = session.get(ClientAccount, user.id)
    if account is not None and account.organisation_id != org.id:
        raise Conflict(f"{user.name} already acts for organisation {account.organisation_id}")
    if account is None:
        session.add(ClientAccount(user_id=user.id, organisation_id=org.id))
    session.commit()
    return ClientUserPublic(user_id=user.id, name=user.name, organisation_id=org.id, token=token)


def members(session: Session, org_id: int) -> list[User]:
    return list(
        session.exec(
            select(User)
            .join(ClientAccount, col(ClientAccount.user_id) == col(User.id))
            .where(ClientAccount.organisation_id == org_id)
            .order_by(col(User.name))
        )
    )


def adjustment(org: Organisation, profiles: ProfileSet) -> tuple[Decimal, str]:
    """The organisation's price adjustment (percent, label): its own, else its group's."""
    if org.adjustment_bp is not None:
        pct = Decimal(org.adjustment_bp) / 100
        return pct, ("Remise client" if pct < 0 else "Majoration client")
    group = profiles.prices.groups.get(org.price_group or "")
    if group is not None:
        return group.adjustment_percent, f"Tarif {group.label}"
    return Decimal(0), ""
