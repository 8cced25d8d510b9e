"""``fabqueue check-profiles [--probe]``: every error in every file, at once."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("check-profiles", help="validate machine and material profiles")
    p.add_argument("--probe", action="store_true", help="also ask each machine if it answers")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fabqueue.profiles import ProfileErrors, load_profiles
    from fabqueue.settings import Settings

    settings = Settings()
    try:
        profiles = load_profiles(settings.profiles_dir)
    except ProfileErrors as exc:
        print(exc)
        return 1
    print(
        f"{settings.profiles_dir}: {len(profiles.machines)} machine(s), "
        f"{len(profiles.materials)} material(s): all valid"
    )
    if args.probe:
        return asyncio.run(_probe(profiles))
    return 0


async def _probe(profiles: Any) -> int:
    from drivers.base import DriverError, MachineState
    from drivers.registry import DRIVERS
    from fabqueue.clock import RealClock

    worst = 0
    for profile in profiles.machines.values():
        driver = DRIVERS[profile.driver_type](
            profile.slug, profile.driver_config, on_status=lambda _s: None, clock=RealClock()
        )
        try:
            await asyncio.wait_for(driver.connect(), timeout=15)
            status = await asyncio.wait_for(driver.probe(), timeout=15)
            state = status.state.value
            if status.state in (MachineState.offline, MachineState.error):
                worst = 1
            print(f"  {profile.slug:<20} {state}{': ' + status.message if status.message else ''}")
        except (DriverError, TimeoutError, OSError) as exc:
            worst = 1
            print(f"  {profile.slug:<20} unreachable: {exc}")
        finally:
            await driver.close()
    return worst
