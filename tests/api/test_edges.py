"""The API's edges: ids out of range, security headers, declared error bodies, uploads
that are too large or stream without a length, and where uploads are spooled."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fabqueue.api import limits
from fabqueue.api.deps import MAX_ID
from fabqueue.app import create_app
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.factories import make_user, tiny_gcode
from tests.support.live import live_server


@pytest.fixture
def held_api(make_api: Any, settings: Settings) -> Api:
    return make_api(settings.model_copy(update={"start_dispatcher": False}))


def id_routes(api: Api) -> list[tuple[str, str]]:
    """(method, path template) of every route with an id in its path."""
    spec = api.client.get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        if "_id}" in path
        for method in ops
    ]


@pytest.mark.parametrize("bad", [2**63, 2**64 + 7, 0, -1])
def test_an_id_out_of_range_is_refused_on_every_route(held_api: Api, bad: int) -> None:
    routes = id_routes(held_api)
    assert len(routes) > 30
    h = held_api.headers("ada", "admin")
    for method, template in routes:
        path = re.sub(r"\{[a-z_]+_id\}", str(bad), template)
        r = held_api.client.request(method, path, headers=h, json={})
        assert r.status_code == 422, (method, path, r.status_code, r.text)
        assert r.json()["detail"][0]["loc"][0] == "path"


def test_the_largest_id_is_simply_not_found(held_api: Api) -> None:
    h = held_api.headers("ada", "admin")
    for path in (f"/api/v1/jobs/{MAX_ID}", f"/api/v1/quotes/{MAX_ID}", f"/api/v1/clients/{MAX_ID}"):
        assert held_api.client.get(path, headers=h).status_code == 404, path
    for params in ({"owner": 2**63}, {"offset": 2**63}):
        assert held_api.client.get("/api/v1/jobs", headers=h, params=params).status_code == 422


def test_ids_in_bodies_are_bounded_too(held_api: Api) -> None:
    """Found by schemathesis: organisation_id = -3e19 in a JSON body was a 500."""
    h = held_api.headers("ada", "admin")
    for bad in (2**63, -(2**65), 0):
        r = held_api.client.post(
            "/api/v1/quotes", headers=h, json={"title": "x", "organisation_id": bad}
        )
        assert r.status_code == 422, r.text
        r = held_api.client.post("/api/v1/clients/1/users", headers=h, json={"user_id": bad})
        assert r.status_code == 422, r.text


def test_every_integer_parameter_fits_a_64_bit_column(held_api: Api) -> None:
    spec = held_api.client.get("/openapi.json").json()
    checked = 0
    for path, ops in spec["paths"].items():
        for op in ops.values():
            for p in op.get("parameters", []):
                schemas = p["schema"].get("anyOf", [p["schema"]])
                for s in schemas:
                    if s.get("type") == "integer":
                        checked += 1
                        assert s.get("maximum", 2**63) <= MAX_ID, (path, p["name"])
                        assert "minimum" in s, (path, p["name"])
    assert checked > 30


def test_error_bodies_are_declared(held_api: Api) -> None:
    spec = held_api.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["ErrorBody"]["properties"]["detail"]["type"] == "string"
    unprocessable = schemas["UnprocessableBody"]["anyOf"]
    assert {s["$ref"].rsplit("/", 1)[1] for s in unprocessable} == {
        "ValidationErrors",
        "ErrorBody",
    }
    op = spec["paths"]["/api/v1/jobs/{job_id}"]["get"]["responses"]
    assert op["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    # A service's 422 is a sentence; a parser's 422 is a list: both are declared.
    h = held_api.headers()
    r = held_api.client.post(
        "/api/v1/clients", headers=h, json={"name": "X", "siret": "81234567600018"}
    )
    assert r.status_code == 422 and isinstance(r.json()["detail"], str)
    r = held_api.client.post("/api/v1/clients", headers=h, json={"name": ""})
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)


@pytest.mark.parametrize(
    "path", ["/api/v1/health", "/api/v1/jobs", "/api/v1/jobs/1", "/docs", "/openapi.json", "/nope"]
)
def test_security_headers_on_every_response(held_api: Api, path: str) -> None:
    r = held_api.client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_the_docs_page_still_loads(held_api: Api) -> None:
    r = held_api.client.get("/docs")
    assert r.status_code == 200 and "swagger-ui" in r.text
    # No script policy that would block the docs' scripts.
    assert "script-src" not in r.headers["content-security-policy"]
    assert held_api.client.get("/api/v1/health").headers["cache-control"] == "no-store"


@pytest.fixture
def small_limit(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    s = settings.model_copy(update={"start_dispatcher": False, "upload_limit_bytes": 64 * 1024})
    app = create_app(s)
    with live_server(app) as url:
        _, token = make_user(app.state.ctx.sessions, "boss", "facilitator")
        yield url, token, s.data_dir


def multipart(path: Path, extra: bytes = b"") -> tuple[bytes, str]:
    boundary = "fqboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="machine"\r\n\r\nprinter\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + extra
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_chunked_upload_over_the_limit_is_413(
    small_limit: tuple[str, str, Path], tmp_path: Path
) -> None:
    url, token, _ = small_limit
    padding = b"; padding\n" * 200_000  # 2 MB of G-code comments: over 64 KB + 1 MB slack
    body, ctype = multipart(tiny_gcode(tmp_path), padding)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    r = httpx.post(
        f"{url}/api/v1/jobs",
        headers={"Authorization": f"Bearer {token}", "Content-Type": ctype},
        content=chunks(),
        timeout=30,
    )
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    assert "limit" in r.json()["detail"]
    assert r.headers["x-content-type-options"] == "nosniff"
    jobs = httpx.get(f"{url}/api/v1/jobs", headers={"Authorization": f"Bearer {token}"}).json()
    assert jobs["count"] == 0


def test_a_chunked_upload_under_the_limit_is_taken(
    small_limit: tuple[str, str, Path], tmp_path: Path
) -> None:
    url, token, _ = small_limit
    body, ctype = multipart(tiny_gcode(tmp_path))
    r = httpx.post(
        f"{url}/api/v1/jobs",
        headers={"Authorization": f"Bearer {token}", "Content-Type": ctype},
        content=iter([body[:100], body[100:]]),
        timeout=30,
    )
    assert r.status_code == 201, r.text


def test_uploads_are_spooled_in_the_data_dir(
    small_limit: tuple[str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, token, data_dir = small_limit
    folders: list[Any] = []
    real = tempfile.SpooledTemporaryFile

    def recording(*args: Any, **kwargs: Any) -> Any:
        folders.append(kwargs.get("dir"))
        return real(*args, **kwargs)

    monkeypatch.setattr(limits.tempfile, "SpooledTemporaryFile", recording)
    body, ctype = multipart(tiny_gcode(tmp_path))
    r = httpx.post(
        f"{url}/api/v1/jobs",
        headers={"Authorization": f"Bearer {token}", "Content-Type": ctype},
        content=body,
    )
    assert r.status_code == 201, r.text
    assert folders == [data_dir / "tmp"]


def test_absurd_actuals_do_not_break_the_estimates_report(held_api: Api) -> None:
    """Found by schemathesis: a real duration of 5e-324 s made the ratio 0 and the
    report a 500."""
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.models import Job
    from fabqueue.services.jobs import index_file
    from fabqueue.states import JobState
    from jobs.base import MachineKind

    h = held_api.headers()
    ids = []
    with session_scope(held_api.ctx.sessions) as session:
        index_file(session, "0" * 64, 10, utcnow())
        for _ in range(3):
            job = Job(
                kind=MachineKind.fdm_printer,
                owner_id=held_api.user_ids["staff"],
                title="part",
                file_sha256="0" * 64,
                file_name="part.gcode",
                file_type="gcode",
                file_size=10,
                analysis={"duration_s": 1000, "material": {"filament_g": 0.5}},
                state=JobState.succeeded,
                created_at=utcnow(),
                updated_at=utcnow(),
                finished_at=utcnow(),
            )
            session.add(job)
            session.flush()
            ids.append(job.id)
    bodies = [
        {"duration_s": 5e-324},  # the smallest float: ratio 0
        {"material": {"filament_g": 1e308}},  # ratio: infinity
        {"duration_s": 1200, "material": {"filament_g": 0.6}},
    ]
    for job_id, body in zip(ids, bodies, strict=True):
        assert held_api.client.put(
            f"/api/v1/reports/actuals/{job_id}", headers=h, json=body
        ).is_success
    r = held_api.client.get("/api/v1/reports/estimates", headers=h)
    assert r.status_code == 200, r.text
    (printer,) = r.json()
    assert printer["duration"]["worst"] == pytest.approx(1.2)
    assert printer["material"][0]["worst"] == pytest.approx(1.2)
