"""What ``fabqueue serve`` prints at start: the address to open on a tablet, as text and
as a QR code in the terminal, and how the first admin signs in."""

from __future__ import annotations

import io
import socket

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def lan_address() -> str | None:
    """This computer's address on the café network (the one its default route uses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            # A UDP connect sends nothing: it only picks the outgoing interface.
            s.connect(("192.0.2.1", 9))
            address: str = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def tablet_url(host: str, port: int, scheme: str = "http") -> str | None:
    if host in LOOPBACK:
        return None
    if host in ("0.0.0.0", "::", ""):
        found = lan_address()
        if found is None:
            return None
        host = found
    return f"{scheme}://{host}:{port}/"


def qr_text(url: str) -> str:
    import segno

    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def banner(host: str, port: int, signable: bool) -> str:
    local = f"http://127.0.0.1:{port}/"
    lines = [f"fabqueue: open {local} on this computer."]
    url = tablet_url(host, port)
    if url is None:
        lines.append(
            "Tablets cannot reach it yet: start with --host 0.0.0.0 "
            "(or FABQUEUE_HOST=0.0.0.0) to listen on the café network."
        )
    else:
        lines.append(f"On a tablet of the café network, open {url} (or scan this code):")
        lines.append(qr_text(url))
    if not signable:
        lines.append(
            "No one can sign in yet. Create the first admin, then give them a password:\n"
            "  .venv/bin/fabqueue user add NAME --role admin\n"
            "  .venv/bin/fabqueue user passwd NAME"
        )
    return "\n".join(lines)
