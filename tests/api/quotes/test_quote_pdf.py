"""The devis PDF, read back with pdftotext (poppler-utils), for each VAT regime."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fabqueue.profiles import load_profiles
from tests.conftest import REPO, Api
from tests.support.quotes import (
    BENCHY,
    add_design,
    draft_for,
    free_line,
    make_client,
    quote_profiles,
    staff,
)

PDFTOTEXT = shutil.which("pdftotext")


def text_of(pdf: bytes, tmp_path: Path) -> str:
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / "devis.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    # French number formatting uses narrow and ordinary no-break spaces.
    return re.sub(r"[ \u00a0\u202f]+", " ", out)


def has(text: str, *phrases: str) -> None:
    flat = re.sub(r"\s+", " ", text)  # a phrase may wrap at the end of a line
    for phrase in phrases:
        assert phrase in text or phrase in flat, f"{phrase!r} not in the PDF:\n{text}"


def build(api: Api, regime: str) -> dict[str, Any]:
    org, client = make_client(api, siret="81234567600017")
    q = draft_for(api, org, "Bateaux pour la vitrine")
    add_design(
        api, q["id"], BENCHY, staff(api), quantity=3, description="Bateau imprimé en PLA noir"
    )
    free_line(api, q["id"], "Préparation du fichier", "1.5", "35.00", unit="h")
    if regime == "normal":
        free_line(api, q["id"], "Livret de montage", "2", "4.00", vat="5.5")
    r = api.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(api))
    assert r.status_code == 200, r.text
    return {**r.json(), "client_headers": client}


COMMON = (
    "Devis n° DEV-2026-0001",
    "Objet : Bateaux pour la vitrine",
    "Date du devis : 2 mars 2026",
    "Durée de validité : 30 jours, jusqu'au 1 avril 2026 inclus",
    "SIRET : 81234567600017",
    "Boulangerie Céleste",
    "4 place du Marché",
    "13001 Marseille",
    "À l'attention de Mme Céleste Martin",
    "Bateau imprimé en PLA noir",
    "3 pièces",
    "2,20 €",
    "6,60 €",
    "Préparation du fichier",
    "1,5 h",
    "35,00 €",
    "52,50 €",
    "Prix unitaire HT",
    "Total HT",
    "Bon pour accord",
    "Date, nom et signature du client, précédés de la mention manuscrite « Bon pour accord »",
)


@pytest.mark.parametrize("regime", ["normal"])
def test_normal_regime(qapi: Api, tmp_path: Path) -> None:
    q = build(qapi, "normal")
    r = qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=staff(qapi))
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert 'filename="DEV-2026-0001.pdf"' in r.headers["content-disposition"]
    text = text_of(r.content, tmp_path)
    has(text, *COMMON)
    has(
        text,
        "Café numérique du Port",
        "SCIC SARL",
        "3 quai du Port",
        "13002 Marseille",
        "RCS Marseille 812 345 676",
        "N° TVA intracommunautaire : FR19812345676",
        "TVA",  # the rate column
        "20 %",
        "5,5 %",
        "Livret de montage",
        "8,00 €",
        # 6.60 + 52.50 + 8.00 = 67.10 HT; 20 % of 59.10 = 11.82; 5.5 % of 8.00 = 0.44.
        "Total HT 67,10 €",
        "TVA 20 % sur 59,10 € 11,82 €",
        "TVA 5,5 % sur 8,00 € 0,44 €",
        "Total TTC 79,36 €",
        "Délai de réalisation estimé : 10 jours ouvrés",
        "Conditions de paiement : 30 % à la commande, solde à la livraison",
    )
    assert "293 B" not in text and "non applicable" not in text


@pytest.mark.parametrize(
    ("regime", "mention", "identity"),
    [
        (
            "franchise_293B",
            "TVA non applicable, art. 293 B du CGI",
            ("Atelier Fil & Pixel", "Entreprise individuelle", "8 rue des Canuts"),
        ),
        (
            "association_exempt",
            "TVA non applicable, art. 261-7-1°-b du CGI",
            ("Café numérique des Tilleuls", "Association loi 1901", "12 rue des Tilleuls"),
        ),
    ],
)
def test_regimes_without_vat(
    qapi: Api, tmp_path: Path, mention: str, identity: tuple[str, ...]
) -> None:
    q = build(qapi, "")
    assert q["totals"] == {"ht": "59.10", "vat": [], "ttc": "59.10", "vat_mention": mention}
    assert {line["vat_rate"] for line in q["lines"]} == {"0"}
    text = text_of(
        qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=q["client_headers"]).content,
        tmp_path,
    )
    has(text, *COMMON, *identity, mention, "Total HT 59,10 €", "Net à payer 59,10 €")
    assert "Total TTC" not in text
    assert not re.search(r"TVA \d", text)  # no VAT line, no rate column values
    assert "intracommunautaire" not in text


@pytest.mark.parametrize("regime", ["association_exempt"])
def test_vat_rates_are_refused_outside_the_normal_regime(qapi: Api) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    r = free_line(qapi, q["id"], "Livret", "1", "4.00", vat="5.5")
    assert r.status_code == 422 and "no VAT" in r.json()["detail"]


@pytest.mark.parametrize("regime", ["normal"])
def test_accepted_quote_prints_the_acceptance(qapi: Api, tmp_path: Path, clock: Any) -> None:
    q = build(qapi, "normal")
    clock.advance(days=1, hours=1)  # 3 March, 10:30 UTC = 11:30 in Paris
    r = qapi.client.post(
        f"/api/v1/quotes/link/{q['accept_token']}/accept",
        json={"signer_name": "Céleste Martin", "agree": True},
    )
    assert r.status_code == 200
    text = text_of(
        qapi.client.get(f"/api/v1/quotes/link/{q['accept_token']}/pdf").content, tmp_path
    )
    has(
        text,
        "Devis accepté « bon pour accord » le 3 mars 2026 à 11:30 par Céleste Martin",
        "en ligne, lien du devis",
        "Date du devis : 2 mars 2026",
    )


@pytest.mark.parametrize("regime", ["normal"])
def test_a_sent_quote_prints_what_was_sent(qapi: Api, tmp_path: Path) -> None:
    """The client's address changes after sending: the devis keeps the old one."""
    q = build(qapi, "normal")
    org = q["organisation_id"]
    qapi.client.put(
        f"/api/v1/clients/{org}",
        headers=staff(qapi),
        json={"name": "Boulangerie Céleste", "address": "99 avenue Neuve\n75001 Paris"},
    )
    text = text_of(
        qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=staff(qapi)).content, tmp_path
    )
    has(text, "4 place du Marché")
    assert "avenue Neuve" not in text


@pytest.mark.parametrize("regime", ["normal"])
def test_a_draft_prints_as_a_working_copy_for_staff_only(qapi: Api, tmp_path: Path) -> None:
    org, client = make_client(qapi)
    q = draft_for(qapi, org, "Essai")
    free_line(qapi, q["id"], "Plaque", "1", "30.00")
    r = qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=staff(qapi))
    text = text_of(r.content, tmp_path)
    has(text, "BROUILLON", "Projet de devis", "Total TTC 36,00 €")
    assert "DEV-" not in text
    assert qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=client).status_code == 409


@pytest.mark.parametrize("regime", [None])
def test_no_site_no_sending(qapi: Api) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    free_line(qapi, q["id"], "Plaque", "1", "30.00")
    r = qapi.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(qapi))
    assert r.status_code == 409 and "site.toml" in r.json()["detail"]


def _site_with(api: Api, tmp_path: Path, regime: str, extra: str) -> None:
    root = quote_profiles(tmp_path / "site", regime)
    with (root / "site.toml").open("a") as fh:
        fh.write(extra)
    api.ctx.profiles = load_profiles(root)


@pytest.mark.parametrize("regime", ["franchise_293B"])
def test_hours_are_singular_below_two_and_a_micro_entrepreneur_says_ei(
    qapi: Api, tmp_path: Path
) -> None:
    _site_with(qapi, tmp_path, "franchise_293B", 'ei = true\nrm = "RM 812 345 676 69"\n')
    org, _ = make_client(qapi)
    q = draft_for(qapi, org, "Retouches")
    free_line(qapi, q["id"], "Préparation du fichier", "1.5", "35.00", unit="heure")
    free_line(qapi, q["id"], "Pose en vitrine", "2", "30.00", unit="heure")
    assert qapi.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(qapi)).is_success
    text = text_of(
        qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=staff(qapi)).content, tmp_path
    )
    has(text, "1,5 heure", "2 heures", "Atelier Fil & Pixel EI", "RM 812 345 676 69")
    assert "1,5 heures" not in text and "RCS" not in text and "RNA" not in text


@pytest.mark.parametrize("regime", ["association_exempt"])
def test_an_association_prints_its_rna_and_says_it_is_exempt(qapi: Api, tmp_path: Path) -> None:
    footer = tomllib.loads((REPO / "profiles" / "site.toml").read_text())["quote_footer"]
    assert "exonérée" in footer and "non assujettie" not in footer
    extra = f'rna = "W69 1234567"\nquote_footer = "{footer}"\n'
    _site_with(qapi, tmp_path, "association_exempt", extra)
    org, _ = make_client(qapi)
    q = draft_for(qapi, org, "Atelier")
    free_line(qapi, q["id"], "Animation", "1", "50.00", unit="forfait")
    assert qapi.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(qapi)).is_success
    text = text_of(
        qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=staff(qapi)).content, tmp_path
    )
    has(text, "RNA : W691234567", "Association exonérée de TVA", "1 forfait")


STICKER = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="80mm" height="40mm" viewBox="0 0 80 40">'
    '<rect x="0" y="0" width="80" height="40" fill="#000"/></svg>'
)


@pytest.mark.parametrize("regime", ["normal"])
def test_a_design_line_says_what_is_made_and_the_discount_is_a_line(
    qapi: Api, tmp_path: Path
) -> None:
    org, client = make_client(qapi, price_group="commerce")
    q = draft_for(qapi, org, "Autocollants")
    sticker = tmp_path / "logo-final-v3.svg"
    sticker.write_text(STICKER)
    r = add_design(qapi, q["id"], sticker, staff(qapi), quantity=20, material="vinyle-noir")
    assert r.status_code == 201, r.text
    design, discount = r.json()["lines"]
    assert design["description"] == "Autocollant 80 × 40 mm, vinyle noir"
    assert design["file_name"] == "logo-final-v3.svg"  # staff still see the file
    assert not design["needs_estimate"]
    assert discount["kind"] == "discount" and discount["total_ht"].startswith("-")
    sent = qapi.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(qapi)).json()
    text = text_of(
        qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=client).content, tmp_path
    )
    has(
        text,
        "Autocollant 80 × 40 mm, vinyle noir",
        "Tarif Commerces du quartier : remise de 10 %",
        "Total HT " + sent["totals"]["ht"].replace(".", ",") + " €",
    )
    assert "logo-final-v3" not in text


@pytest.mark.parametrize("regime", ["normal"])
def test_a_paper_acceptance_prints_its_signature_date(
    qapi: Api, tmp_path: Path, clock: Any
) -> None:
    q = build(qapi, "normal")
    clock.advance(days=33)  # 4 April: expired on 1 April
    r = qapi.client.post(
        f"/api/v1/quotes/{q['id']}/paper-acceptance",
        headers=staff(qapi),
        json={"signer_name": "Céleste Martin", "signed_on": "2026-03-31"},
    )
    assert r.status_code == 200, r.text
    text = text_of(
        qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=staff(qapi)).content, tmp_path
    )
    has(
        text,
        "Devis signé « bon pour accord » le 31 mars 2026 par Céleste Martin",
        "exemplaire signé reçu par le café",
        "enregistré le 4 avril 2026",
    )
