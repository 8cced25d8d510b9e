"""``python -m tests.support.lease_holder DB_URL NODE``: another process that takes a
node's lease, says so on stdout, and keeps it until its stdin closes."""

from __future__ import annotations

import sys

from fabqueue.clock import RealClock
from fabqueue.lease import LeaseHeld, NodeLease


def main() -> int:
    db_url, node = sys.argv[1], sys.argv[2]
    lease = NodeLease(db_url, node, RealClock())
    try:
        lease.acquire()
    except LeaseHeld as exc:
        print(f"refused {exc}", flush=True)
        return 3
    print(f"held {lease.pid}", flush=True)
    sys.stdin.read()
    lease.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
