"""Bad SVG input gets a clear refusal (AnalysisError or FileRejected: a 422 at the API),
quickly, never a crash, a hang or a memory blow-up."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from jobs.base import AnalysisError, FileRejected
from jobs.vinyl.svg.read import MAX_FILE_BYTES, read_svg
from tests.support.vinyl import svg

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><desc>&lol9;</desc></svg>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><desc>&xxe;</desc></svg>
"""


def write(tmp: Path, text: str | bytes, name: str = "bad.svg") -> Path:
    path = tmp / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        ("<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>", AnalysisError, "well-formed"),
        ("", AnalysisError, "well-formed"),
        ("just some text", AnalysisError, "well-formed"),
        (BILLION_LAUGHS, AnalysisError, "billion laughs"),
        (XXE, AnalysisError, "entities"),
        ("<html><body>hello</body></html>", AnalysisError, "root element is <html>"),
        (b"\x1f\x8b\x08\x00compressed", AnalysisError, "compressed SVG"),
        (b"\xff\xfe<\x00s\x00v\x00g\x00", AnalysisError, r"\w"),
        ("<svg xmlns='http://www.w3.org/2000/svg' width='1e999mm'/>", AnalysisError, "width"),
    ],
)
def test_unreadable_files_are_refused_clearly(
    tmp_path: Path, content: str | bytes, error: type[Exception], words: str
) -> None:
    started = time.monotonic()
    with pytest.raises(error, match=words):
        read_svg(write(tmp_path, content))
    assert time.monotonic() - started < 5.0  # a guard against a hang, not a speed test


def test_a_50_mb_svg_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.svg"
    with path.open("w") as fh:
        fh.write('<svg xmlns="http://www.w3.org/2000/svg">')
        line = '<rect x="1" y="1" width="1" height="1"/>\n'
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            fh.write(line)
        fh.write("</svg>")
    assert path.stat().st_size > 50 * 1024 * 1024 > MAX_FILE_BYTES
    started = time.monotonic()
    with pytest.raises(FileRejected, match=r"5\d\.\d MB; cutting files are limited to 26 MB"):
        read_svg(path)
    assert time.monotonic() - started < 5.0  # a guard against a hang, not a speed test


def test_coordinates_of_a_billion_are_refused(tmp_path: Path) -> None:
    path = svg(tmp_path, '<path d="M 0 0 C 1e9 0 1e9 1e9 0 1e9"/>')
    started = time.monotonic()
    with pytest.raises(FileRejected, match="spans 1,000,000 m"):
        read_svg(path)
    assert time.monotonic() - started < 5.0  # a guard against a hang, not a speed test


def test_a_path_with_millions_of_coordinates_is_refused(tmp_path: Path) -> None:
    path = svg(tmp_path, '<path d="M 0 0' + " l 1 1" * 1_000_000 + '"/>')
    started = time.monotonic()
    with pytest.raises(FileRejected, match="million characters of data"):
        read_svg(path)
    assert time.monotonic() - started < 5.0  # a guard against a hang, not a speed test


def test_too_many_points_once_flattened(tmp_path: Path) -> None:
    # 1000 circles of 10 m at a 0.001 mm tolerance: millions of chords.
    body = "".join(f'<circle cx="5000" cy="5000" r="{5000 - i}"/>' for i in range(1000))
    path = svg(tmp_path, body, 'width="10000mm" height="10000mm" viewBox="0 0 10000 10000"')
    with pytest.raises(FileRejected, match=r"points at a 0\.001 mm curve tolerance"):
        read_svg(path, tolerance_mm=0.001)


def test_infinite_numbers_stop_the_path_there(tmp_path: Path) -> None:
    d = read_svg(svg(tmp_path, '<path id="p" d="M 0 0 L 10 0 L 1e999 5"/>'))
    assert len(d.paths) == 1
    assert any("not a finite number" in w for w in d.warnings)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    body = "<g>" * 5000 + '<rect width="1" height="1"/>' + "</g>" * 5000
    with pytest.raises(AnalysisError, match="nest"):
        read_svg(svg(tmp_path, body))


def test_an_empty_drawing_reads_as_nothing(tmp_path: Path) -> None:
    assert read_svg(svg(tmp_path, "")).paths == []


@pytest.mark.parametrize(
    "d",
    [
        "M 0 0" + " m 2 0 h 1 v 1 h -1 z" * 100_000,  # a moveto per subpath
        "M 0 0" + " h 1 v 1 h -1 z" * 100_000,  # subpaths that follow a closepath
    ],
)
def test_one_path_of_100000_subpaths_is_refused_early(tmp_path: Path, d: str) -> None:
    path = svg(tmp_path, f'<path d="{d}"/>')
    started = time.monotonic()
    with pytest.raises(FileRejected, match="more than 20,000 contours"):
        read_svg(path)
    assert time.monotonic() - started < 5.0  # a guard against minutes, not a speed test


def test_subpaths_of_many_paths_add_up(tmp_path: Path) -> None:
    one = "M 0 0" + " m 2 0 h 1 v 1 h -1 z" * 4_001
    with pytest.raises(FileRejected, match="more than 20,000 contours"):
        read_svg(svg(tmp_path, f'<path d="{one}"/>' * 5))
    rects = '<rect width="1" height="1"/>' * 10_000
    assert len(read_svg(svg(tmp_path, f'<path d="{one}"/>' * 2 + rects)).paths) > 10_000


def test_text_is_refused_before_any_path_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs.vinyl.svg import path as svg_path

    calls: list[str] = []
    real = svg_path.parse_path

    def counting(d: str, budget: svg_path.Budget) -> tuple[list[svg_path.Subpath], str | None]:
        calls.append(d)
        return real(d, budget)

    monkeypatch.setattr(svg_path, "parse_path", counting)
    logo = '<path d="M 0 0 C 10 0 10 10 0 10 Z"/>' * 2000
    with pytest.raises(FileRejected, match="contains text"):
        read_svg(svg(tmp_path, logo + "<text>Boulangerie</text>"))
    assert calls == []


def test_a_picture_only_file_says_so(tmp_path: Path) -> None:
    body = '<image width="50" height="50" href="data:image/png;base64,iVBORw0KGgo="/>'
    with pytest.raises(FileRejected, match=r"this file is a picture: .*vector file"):
        read_svg(svg(tmp_path, body))


def test_a_picture_beside_outlines_is_only_a_warning(tmp_path: Path) -> None:
    body = '<image width="50" height="50" href="x.png"/><rect width="5" height="5"/>'
    d = read_svg(svg(tmp_path, body))
    assert len(d.paths) == 1
    assert any("bitmap" in w for w in d.warnings)


def test_an_absurd_size_is_said_without_300_digits(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match=r"spans about 10\^305 m") as err:
        read_svg(svg(tmp_path, '<path d="M 0 0 L 1e308 0 L 0 1"/>'))
    assert max(len(run) for run in re.findall(r"[\d,]+", str(err.value))) < 10
