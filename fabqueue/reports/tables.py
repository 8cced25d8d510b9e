"""Every report as flat tables (title, headers, rows of plain values): one shape for
CSV, ODS, PDF and the pages' tables beneath each chart. Values stay numbers here;
each export formats them its own way."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fabqueue.reports import charts
from fabqueue.reports.accuracy import BUCKET_LABELS
from fabqueue.reports.service import Report

Cell = str | int | float | Decimal | None


@dataclass(frozen=True)
class Table:
    name: str
    """Short ASCII name: the ODS sheet, the CSV section."""
    title: str
    headers: list[str]
    rows: list[list[Cell]]


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 2)


def activity_tables(r: Report) -> list[Table]:
    a = r.activity
    return [
        Table(
            "machines",
            "Heures machine et réussite par machine",
            [
                "Machine",
                "Heures utilisées",
                "Heures d'ouverture",
                "Réussis",
                "Échoués",
                "Refaits",
                "Annulés",
                "Passages",
                "Taux de réussite (%)",
                "Taux de reprise (%)",
            ],
            [
                [
                    m.machine,
                    m.used_h,
                    m.available_h,
                    m.succeeded,
                    m.failed,
                    m.redone,
                    m.cancelled,
                    m.runs,
                    _pct(m.success_rate),
                    _pct(m.redo_rate),
                ]
                for m in a.machines
            ],
        ),
        Table(
            "mois",
            "Travaux par mois",
            ["Mois", "Réussis", "Échoués", "Refaits", "Annulés", "Heures machine"],
            [[m.key, m.succeeded, m.failed, m.redone, m.cancelled, m.used_h] for m in a.months],
        ),
        Table(
            "types",
            "Travaux par type de machine",
            ["Type", "Réussis", "Échoués", "Refaits", "Annulés", "Heures machine"],
            [[k.key, k.succeeded, k.failed, k.redone, k.cancelled, k.used_h] for k in a.kinds],
        ),
        Table(
            "public",
            "Public, formations, réservations, devis",
            ["Indicateur", "Valeur"],
            [
                ["Adhérents servis (comptes distincts)", a.people.members],
                ["Clients servis (comptes distincts)", a.people.clients],
                ["Organisations clientes", a.people.organisations],
                ["Passages sans rendez-vous", a.people.walk_ins],
                ["Sessions de formation", a.trainings.sessions],
                ["Personnes formées", a.trainings.people_trained],
                ["Habilitations accordées", a.trainings.authorisations],
                ["Réservations faites", a.bookings.made],
                ["Créneaux réservés sur la période", a.bookings.in_period],
                ["Réservations honorées", a.bookings.honoured],
                ["Absences (no-show)", a.bookings.no_shows],
                ["Réservations annulées", a.bookings.cancelled],
                ["Devis envoyés", a.quotes.sent],
                ["Devis envoyés, montant HT (€)", a.quotes.sent_ht],
                ["Devis acceptés", a.quotes.accepted],
                ["Devis acceptés, montant HT (€)", a.quotes.accepted_ht],
                ["Devis convertis en travaux", a.quotes.converted],
                ["Devis convertis, montant HT (€)", a.quotes.converted_ht],
            ],
        ),
    ]


MONEY_HEADERS = [
    "Mois",
    "Facturé HT (€)",
    "Facturé TTC (€)",
    "Avoirs HT (€)",
    "Avoirs TTC (€)",
    "Net facturé HT (€)",
    "Net facturé TTC (€)",
    "Encaissé HT (€)",
    "Encaissé TTC (€)",
    "Remboursé TTC (€)",
]


def money_table(r: Report) -> Table:
    """Invoiced and paid amounts per month, the period's total last."""
    rows: list[list[Cell]] = [
        [
            f.key if f.key != "total" else "Total",
            f.invoiced_ht,
            f.invoiced_ttc,
            f.credited_ht,
            f.credited_ttc,
            f.net_ht,
            f.net_ttc,
            f.paid_ht,
            f.paid_ttc,
            f.refunded_ttc,
        ]
        for f in [*r.money.months, r.money.total]
    ]
    return Table("facturation", "Facturé et encaissé", MONEY_HEADERS, rows)


def material_tables(r: Report) -> list[Table]:
    m = r.material
    return [
        Table(
            "matiere",
            "Matière utilisée et gaspillée",
            [
                "Quantité",
                "Unité",
                "Utilisée",
                "Pièces bonnes",
                "Échecs",
                "Reprises",
                "Purges",
                "Chutes d'échenillage",
                "Gaspillée",
                "Part gaspillée (%)",
            ],
            [
                [
                    q.quantity,
                    q.unit,
                    q.used,
                    q.good,
                    q.failed,
                    q.redone,
                    q.purge,
                    q.offcut,
                    q.wasted,
                    _pct(q.waste_share),
                ]
                for q in m.quantities
            ],
        ),
        Table(
            "matieres",
            "Gaspillage par matière",
            ["Matière", "Quantité", "Utilisée", "Gaspillée", "Part gaspillée (%)"],
            [[u.material, u.quantity, u.used, u.wasted, _pct(u.waste_share)] for u in m.materials],
        ),
        Table(
            "causes",
            "Principales causes de pièces ratées",
            ["Machine", "Matière", "Échecs", "Reprises", "Total"],
            [[c.machine, c.material, c.failed, c.redone, c.total] for c in m.causes],
        ),
    ]


def energy_tables(r: Report) -> list[Table]:
    e = r.energy
    rows: list[list[Cell]] = [[x.machine, x.runs, x.kwh] for x in e.machines]
    rows.append(["Total", sum(x.runs for x in e.machines), e.kwh])
    rows += [[f"{slug} : sans puissance dans son profil", None, None] for slug in e.not_estimated]
    return [
        Table(
            "energie",
            f"Énergie ({e.label})",
            ["Machine", "Passages", "kWh (estimation)"],
            rows,
        ),
    ]


def accuracy_tables(r: Report) -> list[Table]:
    return [
        Table(
            "estimations",
            "Temps réel / temps estimé, par machine",
            [
                "Machine",
                "Travaux",
                "Médiane",
                "10e centile",
                "90e centile",
                "À ±10 % (%)",
                *BUCKET_LABELS,
            ],
            [
                [a.machine, a.count, a.median, a.p10, a.p90, _pct(a.within_10pct), *a.buckets]
                for a in r.accuracy
            ],
        )
    ]


def all_tables(r: Report) -> list[Table]:
    return [
        *activity_tables(r),
        money_table(r),
        *material_tables(r),
        *energy_tables(r),
        *accuracy_tables(r),
    ]


def svg_charts(r: Report) -> dict[str, str]:
    """The charts of the report, by the name of the table beneath each."""
    months = r.activity.months
    labels = [m.key[5:] for m in months]
    return {
        "mois": charts.bars(
            f"Travaux par mois — {r.period}",
            labels,
            [
                ("Réussis", [m.succeeded for m in months]),
                ("Échoués", [m.failed for m in months]),
                ("Refaits", [m.redone for m in months]),
                ("Annulés", [m.cancelled for m in months]),
            ],
            "travaux",
            key="chart-mois",
        ),
        "machines": charts.bars(
            "Heures machine utilisées",
            [m.machine for m in r.activity.machines],
            [("Heures", [m.used_h for m in r.activity.machines])],
            "h",
            key="chart-machines",
        ),
        "facturation": charts.bars(
            "Net facturé par mois (€ TTC)",
            [m.key[5:] for m in r.money.months],
            [("€ TTC", [float(m.net_ttc) for m in r.money.months])],
            "€",
            key="chart-facturation",
        ),
        "matieres": charts.bars(
            "Part gaspillée par matière (%)",
            [f"{u.material} ({u.quantity})" for u in r.material.materials],
            [("%", [(_pct(u.waste_share) or 0.0) for u in r.material.materials])],
            "%",
            key="chart-matieres",
        ),
        "energie": charts.bars(
            "Énergie par mois (kWh, estimation)",
            [k[5:] for k in r.energy.months],
            [("kWh", list(r.energy.months.values()))],
            "kWh",
            key="chart-energie",
        ),
    }
