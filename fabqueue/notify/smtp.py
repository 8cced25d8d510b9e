"""The SMTP server's settings and one e-mail sent through it (``smtplib``, blocking:
the sender runs it in a thread)."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from fabqueue.profiles import SiteProfile
from fabqueue.settings import Settings

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class MailConfig:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    expiry_notice_days: int = 3


def mail_config(settings: Settings, site: SiteProfile | None) -> MailConfig | None:
    """The environment over site.toml's ``[mail]``; None when no server is set up."""
    prof = site.mail if site is not None else None
    host = settings.mail_host or (prof.host if prof else None)
    sender = settings.mail_from or (prof.sender if prof else None) or (site.email if site else None)
    if not host or not sender:
        return None
    return MailConfig(
        host=host,
        port=settings.mail_port or (prof.port if prof else 25),
        sender=sender,
        user=settings.mail_user or (prof.user if prof else None),
        password=settings.mail_password,
        starttls=(
            settings.mail_starttls
            if settings.mail_starttls is not None
            else (prof.starttls if prof else False)
        ),
        expiry_notice_days=prof.expiry_notice_days if prof else 3,
    )


def send_message(config: MailConfig, message: EmailMessage) -> None:
    """Hand ``message`` to the server; raises ``OSError``/``smtplib.SMTPException``."""
    with smtplib.SMTP(config.host, config.port, timeout=TIMEOUT_S) as smtp:
        if config.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if config.user and config.password:
            smtp.login(config.user, config.password)
        smtp.send_message(message)
