"""Choices for files that are made before they are analysed (models, logos), and the
live trace preview the facilitator moves the threshold on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import Response

from fabqueue.api.deps import CtxDep, CurrentUser
from fabqueue.services import intake as intake_service
from fabqueue.services.intake import IntakeOptions

router = APIRouter(prefix="/intake", tags=["intake"])


def intake_form(
    preset: Annotated[str, Form(description="3D models: brouillon | normal | fin")] = "normal",
    infill_percent: Annotated[int | None, Form(ge=0, le=100)] = None,
    supports: Annotated[bool, Form()] = False,
    brim_mm: Annotated[float, Form(ge=0, le=20)] = 0.0,
    scale: Annotated[float, Form(gt=0, le=100, description="never applied unless asked")] = 1.0,
    page: Annotated[int | None, Form(ge=1, description="PDF/AI: the page to cut")] = None,
    threshold: Annotated[int, Form(ge=0, le=255, description="pictures: what is ink")] = 128,
    speckle_px: Annotated[int, Form(ge=0)] = 2,
    corner: Annotated[float, Form(ge=0, le=1.34)] = 1.0,
    width_mm: Annotated[float | None, Form(gt=0)] = None,
) -> IntakeOptions:
    return IntakeOptions(
        preset=preset, infill_percent=infill_percent, supports=supports, brim_mm=brim_mm,
        scale=scale, page=page, threshold=threshold, speckle_px=speckle_px, corner=corner,
        width_mm=width_mm,
    )  # fmt: skip


IntakeForm = Annotated[IntakeOptions, Depends(intake_form)]


@router.post("/trace-preview", response_class=Response)
def trace_preview(
    ctx: CtxDep,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="a PNG or JPEG logo, or a PDF")],
    options: IntakeForm,
) -> Response:
    """The logo as it would be cut, as SVG: the page calls it again as the threshold moves.
    A photo must be taken square-on: a picture taken at an angle is not straightened."""
    svg = intake_service.logo_preview(
        store=ctx.store,
        workers=ctx.pool,
        stream=file.file,
        filename=file.filename or "",
        options=options,
        upload_limit=ctx.settings.upload_limit_bytes,
    )
    return Response(svg, media_type="image/svg+xml")
