"""Static files with their content's hash in the URL, so browsers may keep them a year
and still never run yesterday's script after an upgrade."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

YEAR_S = 365 * 24 * 3600


class Assets:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._digests: dict[str, str] = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                rel = path.relative_to(self.root).as_posix()
                self._digests[rel] = hashlib.sha256(path.read_bytes()).hexdigest()[:12]

    def url(self, name: str) -> str:
        digest = self._digests.get(name)
        if digest is None:
            raise KeyError(f"no static file {name!r} in {self.root}")
        return f"/static/{digest}/{name}"

    def size(self, name: str) -> int:
        return (self.root / name).stat().st_size

    async def serve(self, request: Request) -> Response:
        digest = request.path_params["digest"]
        name = request.path_params["name"]
        if self._digests.get(name) is None:
            return Response("not found", status_code=404, media_type="text/plain")
        path = self.root / name
        media, _ = mimetypes.guess_type(name)
        # An old digest still gets today's file, but only briefly cached.
        fresh = self._digests[name] == digest
        cache = f"public, max-age={YEAR_S}, immutable" if fresh else "no-cache"
        return FileResponse(path, media_type=media, headers={"Cache-Control": cache})
