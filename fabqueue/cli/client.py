"""Commands that talk to a running service over its API: submit, jobs, machines."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from fabqueue.cli.common import fail

DEFAULT_URL = "http://127.0.0.1:8000"


def _add_conn(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("FABQUEUE_URL", DEFAULT_URL))
    p.add_argument(
        "--token",
        default=os.environ.get("FABQUEUE_TOKEN"),
        help="API token (default: $FABQUEUE_TOKEN)",
    )
    p.add_argument("--json", action="store_true", help="print the raw JSON")


def register(sub: Any) -> None:
    p = sub.add_parser("submit", help="send a job file to the queue")
    p.add_argument("file", type=Path)
    target = p.add_mutually_exclusive_group()
    target.add_argument("--machine", help="machine slug")
    target.add_argument("--kind", choices=["fdm_printer", "vinyl_cutter", "embroidery"])
    p.add_argument("--material")
    p.add_argument("--copies", type=int, default=1)
    p.add_argument("--priority", type=int, default=0)
    p.add_argument("--hold", action="store_true")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="models: preset=fin, scale=0.5, supports=true…; logos: page=2, threshold=150…",
    )
    _add_conn(p)
    p.set_defaults(func=submit)

    p = sub.add_parser("jobs", help="list jobs")
    p.add_argument("--state", action="append")
    p.add_argument("--machine")
    p.add_argument("--limit", type=int, help="show at most this many (default: all)")
    _add_conn(p)
    p.set_defaults(func=jobs)

    p = sub.add_parser("machines", help="list machines and what they are doing")
    _add_conn(p)
    p.set_defaults(func=machines)


def _client(args: argparse.Namespace) -> Any:
    import httpx

    if not args.token:
        fail("an API token is needed: --token or FABQUEUE_TOKEN (fabqueue user add …)")
    return httpx.Client(
        base_url=args.url.rstrip("/") + "/api/v1",
        headers={"Authorization": f"Bearer {args.token}"},
        timeout=120,
    )


def _check(response: Any) -> Any:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        fail(f"{response.status_code}: {detail}")
    return response.json()


def submit(args: argparse.Namespace) -> int:
    import httpx

    if not args.file.is_file():
        fail(f"no file {args.file}")
    data: dict[str, str] = {"copies": str(args.copies), "priority": str(args.priority)}
    for key in ("machine", "kind", "material"):
        if getattr(args, key):
            data[key] = getattr(args, key)
    if args.hold:
        data["hold"] = "true"
    for option in args.option:
        name, sep, value = option.partition("=")
        if not sep:
            fail(f"--option takes NAME=VALUE, not {option!r}")
        data[name.strip()] = value.strip()
    try:
        with _client(args) as client, args.file.open("rb") as fh:
            job = _check(client.post("/jobs", data=data, files={"file": (args.file.name, fh)}))
    except httpx.HTTPError as exc:
        fail(f"cannot reach {args.url}: {exc}")
    if args.json:
        print(json.dumps(job, indent=2))
    else:
        duration = job["analysis"].get("duration_s")
        est = f", about {duration / 60:.0f} min" if duration else ""
        print(f"job {job['id']} {job['state']} ({job['kind']}{est})")
    return 0


def _all_pages(client: Any, params: dict[str, Any], limit: int | None) -> dict[str, Any]:
    """Every page of the list (or the first ``limit`` jobs), following ``next``."""
    page = _check(client.get("/jobs", params=params))
    data: list[dict[str, Any]] = page["data"]
    while page.get("next") and (limit is None or len(data) < limit):
        query = page["next"].partition("?")[2]
        page = _check(client.get(f"/jobs?{query}"))
        data.extend(page["data"])
    return {"data": data[:limit] if limit is not None else data, "count": page["count"]}


def jobs(args: argparse.Namespace) -> int:
    import httpx

    params: dict[str, Any] = {}
    if args.state:
        params["state"] = args.state
    if args.machine:
        params["machine"] = args.machine
    try:
        with _client(args) as client:
            page = _all_pages(client, params, args.limit)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {args.url}: {exc}")
    if args.json:
        print(json.dumps(page, indent=2))
        return 0
    for job in page["data"]:
        progress = f"{job['progress'] * 100:5.1f} %" if job["progress"] is not None else "       "
        where = job["machine"] or job["target_machine"] or job["kind"]
        print(f"{job['id']:>6}  {job['state']:<18} {progress}  {where:<20} {job['title']}")
    print(f"{page['count']} job(s)")
    return 0


def machines(args: argparse.Namespace) -> int:
    import httpx

    try:
        with _client(args) as client:
            rows = _check(client.get("/machines"))
    except httpx.HTTPError as exc:
        fail(f"cannot reach {args.url}: {exc}")
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for m in rows:
        state = m["status"].get("state", "?")
        job = f"job {m['current_job_id']}" if m["current_job_id"] else ""
        print(f"{m['slug']:<20} {m['kind']:<13} {state:<9} {m['runner_state']:<18} {job}")
    _slicer_urls(args.url.rstrip("/"), [m["slug"] for m in rows if m["kind"] == "fdm_printer"])
    return 0


def _slicer_urls(base: str, printers: list[str]) -> None:
    """What to type in a slicer's "OctoPrint" physical printer (docs/slicers.md)."""
    if not printers:
        return
    print("\nSlicers (PrusaSlicer/Cura, host type OctoPrint, API key = your fabqueue token):")
    for slug in [*printers, "any"]:
        print(f"  {base}/octoprint/{slug}")
