"""Errors services raise; the API turns each into its HTTP status, in one place."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(ServiceError):
    status_code = 404


class Conflict(ServiceError):
    """The action does not fit the current state (409, with that state)."""

    status_code = 409


class Invalid(ServiceError):
    status_code = 422


class Forbidden(ServiceError):
    status_code = 403


class UnsupportedFileType(ServiceError):
    status_code = 415


class TooLarge(ServiceError):
    status_code = 413


class Busy(ServiceError):
    """The server cannot take this work now; the same request later will do (503)."""

    status_code = 503
