"""Logos from PDF, Illustrator and pictures, with real poppler and potrace, checked
against the source geometry."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from jobs.base import FileRejected
from jobs.logos import LogoOptions, TraceOptions, logo_to_svg
from jobs.vinyl import analyze_svg
from tests.support.intake import (
    LOGO,
    filled,
    hausdorff,
    logo_pdf,
    normalised,
    outline_points,
    render_png,
    text_pdf,
    width_mm,
)
from tests.support.tools import needs

pytestmark = needs("pdftocairo", "potrace")


@pytest.fixture(scope="module")
def logo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("logo")
    painted = filled(LOGO, tmp / "filled.svg")
    return {
        "pdf": logo_pdf(tmp / "logo.pdf"),
        "two_pages": logo_pdf(tmp / "two.pdf", pages=2),
        "png": render_png(logo_pdf(tmp / "filled.pdf", painted), tmp / "logo", 1600),
    }


def test_a_vector_pdf_matches_its_source_within_0_2_mm_at_100_mm(
    logo: dict[str, Path], tmp_path: Path
) -> None:
    made = logo_to_svg(logo["pdf"], "pdf", LogoOptions(), tmp_path)
    source, result = outline_points(LOGO), outline_points(made.svg)
    assert made.details == {"from": "pdf", "page": 1, "traced": False}
    assert hausdorff(normalised(source, 100), normalised(result, 100)) < 0.2
    # And at its real size: the PDF's 100 mm page is still 100 mm.
    assert abs(width_mm(result) - width_mm(source)) < 0.3


def test_an_ai_file_is_read_as_the_pdf_it_is(logo: dict[str, Path], tmp_path: Path) -> None:
    ai = tmp_path / "logo.ai"
    shutil.copy(logo["pdf"], ai)
    made = logo_to_svg(ai, "ai", LogoOptions(), tmp_path / "out")
    assert (
        hausdorff(normalised(outline_points(LOGO), 100), normalised(outline_points(made.svg), 100))
        < 0.2
    )


def test_text_in_a_pdf_arrives_as_outlines_that_cut(tmp_path: Path) -> None:
    made = logo_to_svg(text_pdf(tmp_path / "t.pdf", "CAFÉ"), "pdf", LogoOptions(), tmp_path / "o")
    analysis = analyze_svg(made.svg)
    # C, A, F, É (+ accent): separate letters, A with its counter.
    assert analysis.counts["pieces"] >= 5
    assert analysis.counts["counters"] >= 1
    assert "<text" not in made.svg.read_text()


def test_a_multi_page_pdf_asks_which_page(logo: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match=r"2 pages: choose which one to cut \(page=1 to 2\)"):
        logo_to_svg(logo["two_pages"], "pdf", LogoOptions(), tmp_path)
    with pytest.raises(FileRejected, match="page 3 does not exist"):
        logo_to_svg(logo["two_pages"], "pdf", LogoOptions(page=3), tmp_path)
    made = logo_to_svg(logo["two_pages"], "pdf", LogoOptions(page=2), tmp_path)
    assert made.details["page"] == 2
    assert len(outline_points(made.svg)) > 1000


def test_a_picture_is_traced_within_1_percent_of_its_width(
    logo: dict[str, Path], tmp_path: Path
) -> None:
    made = logo_to_svg(logo["png"], "png", LogoOptions(trace=TraceOptions(width_mm=100)), tmp_path)
    result = outline_points(made.svg)
    assert made.details["traced"] is True
    assert abs(width_mm(result) - 100) < 0.01
    assert hausdorff(normalised(outline_points(LOGO), 100), normalised(result, 100)) < 1.0


def test_a_jpeg_photo_is_traced_too(logo: dict[str, Path], tmp_path: Path) -> None:
    jpeg = tmp_path / "logo.jpg"
    Image.open(logo["png"]).convert("RGB").save(jpeg, quality=80)
    made = logo_to_svg(jpeg, "jpg", LogoOptions(trace=TraceOptions(width_mm=100)), tmp_path / "o")
    assert (
        hausdorff(normalised(outline_points(LOGO), 100), normalised(outline_points(made.svg), 100))
        < 1.0
    )


def test_a_raster_only_pdf_is_sent_to_tracing(logo: dict[str, Path], tmp_path: Path) -> None:
    from tests.support.intake import html_pdf

    html = (
        "<style>@page { size: 100mm 100mm; margin: 0 }</style>"
        f'<img src="{logo["png"].as_uri()}" style="display:block;width:100mm">'
    )
    scan = html_pdf(html, tmp_path / "scan.pdf", tmp_path)
    made = logo_to_svg(scan, "pdf", LogoOptions(), tmp_path / "o")
    assert made.details["traced"] is True
    result = outline_points(made.svg)
    assert abs(width_mm(result) - 74.4) < 1.0  # the page's real size, not pixels
    assert hausdorff(normalised(outline_points(LOGO), 100), normalised(result, 100)) < 1.0


def _speckled(png: Path, out: Path) -> Path:
    img = Image.open(png).convert("L")
    for x in range(100, 1500, 97):
        for y in range(50, 1500, 89):
            img.putpixel((x, y), 0)  # one-pixel dust
    img.save(out)
    return out


def test_speckles_are_removed_and_the_threshold_decides_what_is_ink(
    logo: dict[str, Path], tmp_path: Path
) -> None:
    dusty = _speckled(logo["png"], tmp_path / "dusty.png")
    clean = logo_to_svg(dusty, "png", LogoOptions(trace=TraceOptions(speckle_px=4)), tmp_path / "a")
    noisy = logo_to_svg(dusty, "png", LogoOptions(trace=TraceOptions(speckle_px=0)), tmp_path / "b")
    assert analyze_svg(noisy.svg).counts["pieces"] > analyze_svg(clean.svg).counts["pieces"]
    assert analyze_svg(clean.svg).counts["pieces"] == 64
    grey = tmp_path / "grey.png"
    Image.open(logo["png"]).convert("L").point(lambda v: 160 if v < 128 else 255).save(grey)
    light = logo_to_svg(grey, "png", LogoOptions(trace=TraceOptions(threshold=200)), tmp_path / "c")
    assert analyze_svg(light.svg).counts["pieces"] == 64
    with pytest.raises(FileRejected, match=r"darker than the threshold \(128\): raise it"):
        logo_to_svg(grey, "png", LogoOptions(), tmp_path / "d")


def test_bad_options_and_bad_pictures_are_explained(tmp_path: Path) -> None:
    junk = tmp_path / "x.png"
    junk.write_bytes(b"not a picture")
    with pytest.raises(Exception, match="not a readable picture"):
        logo_to_svg(junk, "png", LogoOptions(), tmp_path / "o")
    with pytest.raises(FileRejected, match="threshold goes from 0"):
        logo_to_svg(junk, "png", LogoOptions(trace=TraceOptions(threshold=300)), tmp_path / "o")
