"""Credentials never reach a log line: tokens (``fq_…``), stream tickets (``fqt_…``),
``access_token=``/``ticket=`` values in URLs, and Authorization / X-Api-Key headers.

Installed as the log record factory, so it covers every logger and handler — uvicorn's
access log included, whose handlers do not propagate to the root logger.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(fqt?_)[A-Za-z0-9_\-]{4,}"), rf"\g<1>{REDACTED}"),
    (
        re.compile(r"(?i)\b((?:access_token|ticket|token|api_key|apikey)=)[^&\s\"'#]+"),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), rf"\g<1> {REDACTED}"),
    (
        re.compile(r"(?i)(x-api-key[\"']?\s*[:=,]\s*b?[\"']?)[^\"'\s,)]+"),
        rf"\g<1>{REDACTED}",
    ),
]


_FORMATTER = logging.Formatter()


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if value is None or isinstance(value, (int, float)):
        return value
    # Anything else (headers, URLs, exceptions) is formatted as text anyway: redact it.
    return redact(value if isinstance(value, str) else str(value))


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact the message and its arguments in place, keeping their shape (uvicorn's
    access formatter unpacks the arguments)."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_redact_value(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _redact_value(v) for k, v in record.args.items()}
    if record.exc_info and record.exc_info[0] is not None:
        # Formatters reuse exc_text when it is set: a traceback (an HTTP client's error
        # quoting a URL with its token) is redacted like the message.
        record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
    return record


def install() -> None:
    """Make every log record redacted from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if getattr(current, "_fabqueue_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact_record(current(*args, **kwargs))

    factory._fabqueue_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
