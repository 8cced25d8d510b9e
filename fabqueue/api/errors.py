"""The error bodies the API really sends, declared in OpenAPI so clients can rely on them.

Most errors are ``{"detail": "a sentence", …}`` (services add fields such as ``state`` or
``accepted``); a 422 is either that (a service refused the values) or FastAPI's list of
validation problems (the request did not parse).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, RootModel


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    detail: str
    """What went wrong, in a sentence for a person."""


class ValidationIssue(BaseModel):
    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(BaseModel):
    detail: list[ValidationIssue]


class UnprocessableBody(RootModel[ValidationErrors | ErrorBody]):
    pass


def _error(description: str, model: type[BaseModel] = ErrorBody) -> dict[str, Any]:
    return {"model": model, "description": description}


COMMON: dict[int | str, dict[str, Any]] = {
    400: _error("The body could not be read (not JSON, not UTF-8, broken multipart)"),
    401: _error("No valid token"),
    403: _error("Not allowed for this role"),
    404: _error("No such thing, or not yours"),
    422: _error("Invalid values", UnprocessableBody),
}
"""Every route under /api/v1 may answer these."""

WRITES: dict[int | str, dict[str, Any]] = {
    409: _error("Not possible in the current state"),
}
UPLOADS: dict[int | str, dict[str, Any]] = {
    **WRITES,
    413: _error("Upload too large"),
    415: _error("File type not accepted"),
}
