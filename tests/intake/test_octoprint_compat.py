"""Slicers' "send to printer" into the queue, with real clients: octorest, curl, and the
exact bytes PrusaSlicer's and Cura's OctoPrint hosts put on the wire."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from octorest import OctoRest

from fabqueue.api.octoprint_compat import FORBIDDEN
from tests.conftest import Api
from tests.support.api import job
from tests.support.factories import tiny_gcode
from tests.support.intake import LiveServer, binary_stl, box_triangles, raw_request, with_slicing
from tests.support.tools import needs

PRINTING = ("queued", "starting", "running", "awaiting_operator", "succeeded")
"""Where a job sent with print=true may be by the time the test looks."""


@pytest.fixture
def live(make_api: Callable[..., Api], profiles_dir: Path) -> Iterator[tuple[Api, LiveServer]]:
    with_slicing(profiles_dir)
    api = make_api()
    with LiveServer(api.client.app) as server:
        yield api, server


def _multipart(boundary: bytes, parts: list[tuple[bytes, bytes]]) -> bytes:
    out = b""
    for headers, body in parts:
        out += b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + body + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def test_version_answers_as_octoprint_and_a_bad_key_gets_403(live: tuple[Api, LiveServer]) -> None:
    api, _ = live
    key = api.token()
    for base in ("", "/octoprint/any", "/octoprint/printer"):
        answer = api.client.get(f"{base}/api/version", headers={"X-Api-Key": key})
        assert answer.status_code == 200
        assert answer.json()["api"] == "0.1"
        assert answer.json()["text"].startswith("OctoPrint ")  # PrusaSlicer checks this prefix
    for headers in ({"X-Api-Key": "fq_not-a-key"}, {}):
        refused = api.client.get("/api/version", headers=headers)
        assert refused.status_code == 403
        assert refused.json() == {"error": FORBIDDEN}
    missing = api.client.get("/octoprint/no-such-printer/api/version", headers={"X-Api-Key": key})
    assert missing.status_code == 404 and "no machine 'no-such-printer'" in missing.json()["error"]


def test_octorest_connects_and_uploads_as_it_does_to_octoprint(
    live: tuple[Api, LiveServer], tmp_path: Path
) -> None:
    api, server = live
    client = OctoRest(url=server.url, apikey=api.token())  # its constructor calls /api/version
    answer = client.upload(str(tiny_gcode(tmp_path, "benchy.gcode")), select=True, print=True)
    assert answer["done"] is True
    assert answer["files"]["local"]["name"] == "benchy.gcode"
    job_id = int(answer["files"]["local"]["refs"]["resource"].rsplit("/", 1)[1])
    # octorest 0.4 sends select/print as a JSON body that requests drops beside files=,
    # so OctoPrint sees no print=true; here too the job waits for the facilitator.
    assert job(api, job_id)["state"] == "held"
    assert answer["effectivePrint"] is False
    with pytest.raises(RuntimeError, match="403"):
        OctoRest(url=server.url, apikey="fq_wrong")


PRUSASLICER_BOUNDARY = b"------------------------3f1c0d9b2a7e4c55"


def _prusaslicer_upload(
    port: int, base: str, key: str, gcode: bytes, print_: bool
) -> tuple[int, bytes]:
    """PrusaSlicer 2.5's OctoPrint::upload: libcurl form with print, path, then the file
    (Http::form_add_file: filename and application/octet-stream), X-Api-Key, and the
    Expect: 100-continue libcurl adds to large posts."""
    body = _multipart(
        PRUSASLICER_BOUNDARY,
        [
            (b'Content-Disposition: form-data; name="print"', b"true" if print_ else b"false"),
            (b'Content-Disposition: form-data; name="path"', b""),
            (
                b'Content-Disposition: form-data; name="file"; filename="cube_0.2mm_PLA_8m.gcode"'
                b"\r\nContent-Type: application/octet-stream",
                gcode,
            ),
        ],
    )
    head = (
        f"POST {base}/api/files/local HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "User-Agent: PrusaSlicer/2.5.0\r\n"
        "Accept: */*\r\n"
        f"X-Api-Key: {key}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Content-Type: multipart/form-data; boundary={PRUSASLICER_BOUNDARY.decode()}\r\n"
        "Expect: 100-continue\r\n"
        "\r\n"
    ).encode()
    return raw_request(port, head, body, expect_continue=True)


def test_prusaslicer_upload_and_upload_and_print(
    live: tuple[Api, LiveServer], tmp_path: Path
) -> None:
    api, server = live
    gcode = tiny_gcode(tmp_path).read_bytes() * 1  # a real file, sent as PrusaSlicer sends it
    status, body = _prusaslicer_upload(server.port, "/octoprint/printer", api.token(), gcode, False)
    assert status == 201, body
    held = json.loads(body)
    assert held["files"]["local"]["name"] == "cube_0.2mm_PLA_8m.gcode"
    first = job(api, held["fabqueue"]["job"])
    assert first["state"] == "held" and first["target_machine"] == "printer"
    status, body = _prusaslicer_upload(server.port, "/octoprint/any", api.token(), gcode, True)
    assert status == 201, body
    queued = json.loads(body)
    assert queued["effectivePrint"] is True
    assert job(api, queued["fabqueue"]["job"])["target_machine"] is None


def test_prusaslicer_sees_octoprint_403_for_an_unknown_key(
    live: tuple[Api, LiveServer], tmp_path: Path
) -> None:
    api, server = live
    gcode = tiny_gcode(tmp_path).read_bytes()
    status, body = _prusaslicer_upload(server.port, "", "fq_unknown", gcode, True)
    assert status == 403
    assert json.loads(body) == {"error": FORBIDDEN}
    assert api.client.get("/api/v1/jobs", headers=api.headers()).json()["count"] == 0


CURA_BOUNDARY = b"boundary_.oOo._MTM4NDY2NDk2Mw==MTI5NDk1MzE5Nw=="


def test_cura_octoprint_plugin_upload(live: tuple[Api, LiveServer], tmp_path: Path) -> None:
    """Cura-OctoPrintPlugin's OctoPrintOutputDevice: a QHttpMultiPart (Qt quotes its
    boundary) with select=true, print=true when auto-print is on, then the file with no
    Content-Type of its own."""
    api, server = live
    body = _multipart(
        CURA_BOUNDARY,
        [
            (b'Content-Disposition: form-data; name="select"', b"true"),
            (b'Content-Disposition: form-data; name="print"', b"true"),
            (
                b'Content-Disposition: form-data; name="file"; filename="UM3_part.gcode"',
                tiny_gcode(tmp_path).read_bytes(),
            ),
        ],
    )
    head = (
        "POST /api/files/local HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"X-Api-Key: {api.token()}\r\n"
        "User-Agent: Cura/5.7.0 OctoPrintPlugin/3.7.3\r\n"
        f'Content-Type: multipart/form-data; boundary="{CURA_BOUNDARY.decode()}"\r\n'
        "MIME-Version: 1.0\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: Keep-Alive\r\n"
        "Accept-Encoding: gzip, deflate\r\n"
        "Accept-Language: en-US,*\r\n"
        "\r\n"
    ).encode()
    status, answer = raw_request(server.port, head, body, expect_continue=False)
    assert status == 201, answer
    made = json.loads(answer)
    assert made["effectivePrint"] is True and made["effectiveSelect"] is False
    assert job(api, made["fabqueue"]["job"])["state"] in PRINTING


@needs("curl")
def test_curl_as_in_octoprint_docs(live: tuple[Api, LiveServer], tmp_path: Path) -> None:
    api, server = live
    part = tiny_gcode(tmp_path, "whistle_v2.gcode")

    def curl(key: str) -> tuple[int, dict[str, object]]:
        args = ["-s", "-w", "\n%{http_code}", "-H", f"X-Api-Key: {key}", "-F", "select=false"]
        args += ["-F", "print=true", "-F", f"file=@{part}", f"{server.url}/api/files/local"]
        done = subprocess.run(
            ["curl", *args], capture_output=True, text=True, check=True, timeout=60
        )
        body, _, code = done.stdout.rpartition("\n")
        return int(code), json.loads(body)

    status, made = curl(api.token())
    assert status == 201
    assert made["files"]["local"]["name"] == "whistle_v2.gcode"  # type: ignore[index]
    # print=true queues it: the dispatcher may have taken it already, but never held.
    assert job(api, made["fabqueue"]["job"])["state"] in PRINTING  # type: ignore[index]
    assert curl("fq_nope") == (403, {"error": FORBIDDEN})


def test_clients_and_bad_files_get_octoprint_shaped_errors(
    live: tuple[Api, LiveServer], tmp_path: Path
) -> None:
    api, _ = live
    files = {"file": ("part.gcode", tiny_gcode(tmp_path).read_bytes())}
    refused = api.client.post(
        "/api/files/local", headers={"X-Api-Key": api.token("shop", "client")}, files=files
    )
    assert refused.status_code == 403 and "quote" in refused.json()["error"]
    odd = api.client.post(
        "/api/files/local", headers={"X-Api-Key": api.token()}, files={"file": ("x.docx", b"x")}
    )
    assert odd.status_code == 415 and "docx" in odd.json()["error"]
    empty = api.client.post("/api/files/local", headers={"X-Api-Key": api.token()}, data={"x": "1"})
    assert empty.status_code == 400
    assert empty.json() == {"error": "No file to upload and no folder to create"}


@needs("prusa-slicer")
def test_an_stl_sent_like_a_gcode_is_sliced_priced_and_queued(
    live: tuple[Api, LiveServer], tmp_path: Path
) -> None:
    api, _ = live
    stl = binary_stl(tmp_path / "box.stl", box_triangles(20, 20, 10)).read_bytes()
    made = api.client.post(
        "/octoprint/printer/api/files/local",
        headers={"X-Api-Key": api.token()},
        files={"file": ("box.stl", stl)},
        data={"print": "true", "preset": "brouillon", "material": "pla-noir"},
    )
    assert made.status_code == 201, made.text
    sliced = job(api, made.json()["fabqueue"]["job"])
    assert sliced["file_type"] == "gcode" and sliced["file_name"] == "box.gcode"
    assert sliced["title"] == "box.stl"
    analysis = sliced["analysis"]
    assert analysis["bounds"]["max_z"] == pytest.approx(10.0, abs=0.31)
    assert analysis["duration_s"] > 60 and analysis["material"]["filament_g"] > 1
    source = analysis["details"]["made_from"]
    assert source["file_type"] == "stl" and source["preset"] == "brouillon"
    assert source["mesh"]["manifold"] is True and "warnings" not in source
    assert not any("mesh" in w for w in analysis["warnings"])
    original = api.ctx.store.path_for(source["sha256"])
    assert original.read_bytes() == stl  # the model as brought is kept
