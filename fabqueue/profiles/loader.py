"""Read every profile, report every error at once, or return a consistent set."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from drivers.base import DriverCapabilities
from drivers.registry import DRIVERS
from fabqueue.profiles.models import MachineProfile, MaterialProfile
from fabqueue.profiles.prices import PriceProfile
from fabqueue.profiles.site import SiteProfile
from jobs.base import MachineKind
from jobs.registry import ANALYZERS, accepted_types, sendable_types


@dataclass(frozen=True)
class ProfileError:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class ProfileErrors(Exception):
    def __init__(self, errors: list[ProfileError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(f"{len(errors)} error(s) in the profiles:\n{lines}")


@dataclass(frozen=True)
class ProfileSet:
    machines: dict[str, MachineProfile] = field(default_factory=dict)
    materials: dict[str, MaterialProfile] = field(default_factory=dict)
    prices: PriceProfile = field(default_factory=PriceProfile)
    site: SiteProfile | None = None
    """None when there is no ``site.toml``: quotes cannot be sent until there is one."""
    root: Path | None = None
    """The folder the profiles were read from (the site's logo is there)."""

    def file_types(self, machine: MachineProfile) -> frozenset[str]:
        """What a machine accepts: its kind's types that its driver can send, once
        converted where the kind converts them, narrowed by the profile."""
        types = set(accepted_types(machine.kind))
        caps = DRIVERS[machine.driver_type].default_capabilities.file_types
        if caps is not None:
            types = {t for t in types if sendable_types(ANALYZERS[t], t) & caps}
        if machine.file_types is not None:
            types &= set(machine.file_types)
        return frozenset(types)

    def capabilities(self, machine: MachineProfile) -> DriverCapabilities:
        """What the machine's driver can do (pause, resume, report completion…)."""
        return DRIVERS[machine.driver_type].default_capabilities

    def of_kind(self, kind: MachineKind) -> list[MachineProfile]:
        return [m for m in self.machines.values() if m.kind == kind]


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _read(path: Path, root: Path, errors: list[ProfileError]) -> dict[str, Any] | None:
    rel = str(path.relative_to(root))
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        errors.append(ProfileError(rel, "", f"not valid TOML: {exc}"))
    except OSError as exc:
        errors.append(ProfileError(rel, "", f"cannot read: {exc.strerror}"))
    return None


def _validate_driver(profile: MachineProfile, rel: str, errors: list[ProfileError]) -> None:
    table = dict(profile.driver)
    kind = str(table.pop("type"))
    cls = DRIVERS.get(kind)
    if cls is None:
        errors.append(
            ProfileError(rel, "driver.type", f"unknown driver {kind!r}; known: {sorted(DRIVERS)}")
        )
        return
    try:
        profile.driver_config = cls.Config.model_validate(table)
    except ValidationError as exc:
        for err in exc.errors():
            errors.append(ProfileError(rel, "driver." + _field(err["loc"]), err["msg"]))


def load_profiles(root: Path) -> ProfileSet:
    """Load ``root/machines/*.toml``, ``root/materials/*.toml``, and the optional
    ``root/prices.toml`` and ``root/site.toml``.

    Raises :class:`ProfileErrors` listing every problem found, in every file.
    """
    errors: list[ProfileError] = []
    if not root.is_dir():
        raise ProfileErrors([ProfileError(str(root), "", "the profiles folder does not exist")])
    materials: dict[str, MaterialProfile] = {}
    for path in sorted((root / "materials").glob("*.toml")):
        data = _read(path, root, errors)
        if data is None:
            continue
        rel = str(path.relative_to(root))
        try:
            materials[path.stem] = MaterialProfile.model_validate({**data, "slug": path.stem})
        except ValidationError as exc:
            errors.extend(ProfileError(rel, _field(e["loc"]), e["msg"]) for e in exc.errors())

    machines: dict[str, MachineProfile] = {}
    for path in sorted((root / "machines").glob("*.toml")):
        data = _read(path, root, errors)
        if data is None:
            continue
        rel = str(path.relative_to(root))
        try:
            profile = MachineProfile.model_validate({**data, "slug": path.stem})
        except ValidationError as exc:
            errors.extend(ProfileError(rel, _field(e["loc"]), e["msg"]) for e in exc.errors())
            continue
        _validate_driver(profile, rel, errors)
        for slug in profile.materials:
            material = materials.get(slug)
            if material is None:
                errors.append(ProfileError(rel, "materials", f"no material profile {slug!r}"))
            elif material.kind != profile.kind:
                errors.append(
                    ProfileError(
                        rel,
                        "materials",
                        f"{slug!r} is a {material.kind.value} material, "
                        f"not for a {profile.kind.value}",
                    )
                )
        machines[profile.slug] = profile

    prices = _load_optional(root, "prices.toml", PriceProfile, errors) or PriceProfile()
    site = _load_optional(root, "site.toml", SiteProfile, errors)
    _check_prices(prices, materials, errors)
    errors.extend(
        ProfileError("prices.toml", f"members.booking_machine_rates.{slug}", "no such machine")
        for slug in prices.members.booking_machine_rates
        if slug not in machines
    )
    if site is not None and site.logo is not None and not (root / site.logo).is_file():
        errors.append(ProfileError("site.toml", "logo", f"no file {site.logo!r} in {root}"))

    if errors:
        raise ProfileErrors(errors)
    return ProfileSet(machines=machines, materials=materials, prices=prices, site=site, root=root)


_M = TypeVar("_M", PriceProfile, SiteProfile)


def _load_optional(root: Path, name: str, model: type[_M], errors: list[ProfileError]) -> _M | None:
    path = root / name
    if not path.exists():
        return None
    data = _read(path, root, errors)
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors.extend(ProfileError(name, _field(e["loc"]), e["msg"]) for e in exc.errors())
        return None


def _check_prices(
    prices: PriceProfile, materials: dict[str, MaterialProfile], errors: list[ProfileError]
) -> None:
    for kind in MachineKind:
        slug = prices.for_kind(kind).default_material
        if slug is None:
            continue
        material = materials.get(slug)
        if material is None:
            errors.append(
                ProfileError("prices.toml", f"{kind.value}.default_material", f"no {slug!r}")
            )
        elif material.kind != kind:
            errors.append(
                ProfileError(
                    "prices.toml",
                    f"{kind.value}.default_material",
                    f"{slug!r} is a {material.kind.value} material",
                )
            )
