"""The new-job form as the counter fills it: what is to be made, how a model is sliced
or a logo traced, the size, a cutter job's own mirror and weeding border. Read once
here for the page that understands the file and the one that queues it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, File, Form, UploadFile

from fabqueue.services import counter
from fabqueue.services import jobs as job_service
from fabqueue.services.errors import Invalid
from fabqueue.services.intake import IntakeOptions
from jobs.base import MachineKind

PRESETS = ("brouillon", "normal", "fin")


def _number(text: str, what: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise Invalid(f"{what} is a number, e.g. 80") from None


@dataclass(frozen=True)
class JobForm:
    file: UploadFile | None
    photo: UploadFile | None
    kind: str
    machine: str
    material: str
    copies: int
    width_mm: str
    height_mm: str
    preset: str
    supports: bool
    brim_mm: str
    scale: str
    page: str
    threshold: int
    speckle_px: int
    corner: float
    mirror: bool
    weeding_border: bool
    choices_for: str

    @property
    def upload(self) -> UploadFile | None:
        """The picture just taken with the camera, else the file chosen."""
        for given in (self.photo, self.file):
            if given is not None and given.filename:
                return given
        return None

    @property
    def choices_key(self) -> str:
        """What the cutter choices on the page were drawn for: when the machine or the
        material changes, their defaults (mirror for flex) apply again."""
        return f"{self.machine}|{self.material}"

    def choices(self) -> dict[str, bool]:
        if self.choices_for != self.choices_key:
            return {}
        return {"mirror": self.mirror, "weeding_border": self.weeding_border}

    def intake(self) -> IntakeOptions:
        if self.preset not in PRESETS:
            raise Invalid(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        page = self.page.strip()
        if page and not page.isdigit():
            raise Invalid("the page is a number, e.g. 1")
        scale = _number(self.scale, "the scale")
        return IntakeOptions(
            preset=self.preset,
            supports=self.supports,
            brim_mm=_number(self.brim_mm, "the brim width") or 0.0,
            scale=1.0 if scale is None else scale,
            page=int(page) if page else None,
            threshold=self.threshold,
            speckle_px=self.speckle_px,
            corner=self.corner,
        )

    def request(self, filename: str, hold: bool = False) -> job_service.SubmitRequest:
        return job_service.SubmitRequest(
            filename=filename,
            machine=self.machine or None,
            kind=MachineKind(self.kind) if self.kind else None,
            material=self.material or None,
            copies=self.copies,
            hold=hold,
            intake=self.intake(),
            choices=self.choices(),
        )

    def size(self) -> counter.WantedSize | None:
        w = _number(self.width_mm, "a size in millimetres")
        h = _number(self.height_mm, "a size in millimetres")
        if w is None and h is None:
            return None
        # Aspect is kept: a width, when given, decides.
        return counter.WantedSize(width_mm=w, height_mm=None if w is not None else h)


def job_form(
    file: Annotated[UploadFile | None, File()] = None,
    photo: Annotated[UploadFile | None, File()] = None,
    kind: Annotated[str, Form()] = "",
    machine: Annotated[str, Form()] = "",
    material: Annotated[str, Form()] = "",
    copies: Annotated[int, Form(ge=1, le=1000)] = 1,
    width_mm: Annotated[str, Form()] = "",
    height_mm: Annotated[str, Form()] = "",
    preset: Annotated[str, Form()] = "normal",
    supports: Annotated[str, Form()] = "",
    brim_mm: Annotated[str, Form()] = "",
    scale: Annotated[str, Form()] = "",
    scale_to: Annotated[str, Form()] = "",
    page: Annotated[str, Form()] = "",
    threshold: Annotated[int, Form(ge=0, le=255)] = 128,
    speckle_px: Annotated[int, Form(ge=0, le=1000)] = 2,
    corner: Annotated[float, Form(ge=0, le=1.34)] = 1.0,
    mirror: Annotated[str, Form()] = "",
    weeding_border: Annotated[str, Form()] = "",
    choices_for: Annotated[str, Form()] = "",
) -> JobForm:
    return JobForm(
        file=file, photo=photo, kind=kind, machine=machine, material=material,
        copies=copies, width_mm=width_mm, height_mm=height_mm, preset=preset,
        supports=supports == "1", brim_mm=brim_mm,
        # « Réduire à … » offers a scale: the button's value goes over the field's.
        scale=scale_to or scale, page=page, threshold=threshold,
        speckle_px=speckle_px, corner=corner, mirror=mirror == "1",
        weeding_border=weeding_border == "1", choices_for=choices_for,
    )  # fmt: skip


JobFormDep = Annotated[JobForm, Depends(job_form)]
