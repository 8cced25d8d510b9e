"""The French subject of each kind of message (the e-mails are in French: a shopkeeper
or a walk-in customer reads them; the pages translate notices themselves)."""

from __future__ import annotations

from typing import Any

from fabqueue.models.notifications import NoticeKind

SUBJECTS: dict[NoticeKind, str] = {
    NoticeKind.job_ready: "Votre travail « {title} » est prêt à récupérer",
    NoticeKind.job_failed: "Votre travail « {title} » a échoué",
    NoticeKind.job_interrupted: "Votre travail « {title} » a été interrompu",
    NoticeKind.quote_sent: "Votre devis {number} — {cafe}",
    NoticeKind.quote_expiring: "Votre devis {number} expire le {valid_until_text}",
    NoticeKind.booking_tomorrow: "Rappel : votre réservation demain à {start_text} — {machine}",
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "…"


def subject_for(kind: NoticeKind, params: dict[str, Any]) -> str:
    return SUBJECTS[kind].format_map(_Blank(params))[:200]
