"""``make down``: stop what ``make demo`` started, found by its pid files. Standard library only."""

from __future__ import annotations

from deployments.local_services import STATE_DIR, Service

SERVICES = ("serve", "prefect-server", "sandbox")


def main() -> int:
    for name in SERVICES:
        service = Service(name)
        pid = service.pid()
        if service.stop():
            print(f"stopped {name} (pid {pid})")
        else:
            print(f"{name}: not running")
    print(f"state kept in {STATE_DIR} (delete it for a fresh start)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
