"""This sitting's table from its JSON files: python3 bench/ab-stop51/table.py.
CPU per checkout is split into PostgreSQL, the emulator, the services, and the
stand-ins (`cartflow stack`'s own process: mail catcher, payment sandbox and, with
--push-concurrency, the pusher), which "all" leaves out, as the cloud runs them."""
import glob
import json
import os
import sys

here = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
print("label | checkouts/s | confirmed p50, p99 ms | commits/checkout | CPU ms/checkout (all) | PostgreSQL | emulator | services | stand-ins | peak RSS MiB (services) | missing email/push | email p99 ms")
for path in sorted(glob.glob(os.path.join(here, "*.json"))):
    level = json.load(open(path))["report"]["levels"][0]
    n = max(level["completed"], 1)
    procs = level["processes"]
    cpu = lambda names: 1000 * sum(procs[p]["cpu_seconds"] for p in names if p in procs) / n
    services = [p for p in procs if p not in ("postgresql", "pubsub-emulator", "stand-ins")]
    platform = [p for p in procs if p != "stand-ins"]
    print(
        f"{os.path.basename(path)[:-5]} | {level['checkouts_per_second']:.1f} | "
        f"{level['confirmed']['p50_ms']:.0f}, {level['confirmed']['p99_ms']:.0f} | "
        f"{level['postgres_commits_per_checkout']:.2f} | {cpu(platform):.2f} | {cpu(['postgresql']):.2f} | "
        f"{cpu(['pubsub-emulator']):.2f} | {cpu(services):.2f} | {cpu(['stand-ins']):.2f} | "
        f"{max(procs[p]['peak_rss_mib'] for p in services):.0f} | "
        f"{level['missing_email']}/{level['missing_push']} | {level['email']['p99_ms']:.0f}"
    )
