"""A sitting's table from its JSON files: python3 bench/ab-stop46/table.py [folder]
(this sitting's folder unless another is named)."""
import glob
import json
import os
import sys

here = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
print("label | checkouts/s | confirmed p50, p99 ms | commits/checkout | CPU ms/checkout (all) | PostgreSQL | emulator | services | peak RSS MiB | missing email/push")
for path in sorted(glob.glob(os.path.join(here, "*.json"))):
    level = json.load(open(path))["report"]["levels"][0]
    n = max(level["completed"], 1)
    procs = level["processes"]
    cpu = lambda names: 1000 * sum(procs[p]["cpu_seconds"] for p in names if p in procs) / n
    services = [p for p in procs if p not in ("postgresql", "pubsub-emulator")]
    print(
        f"{os.path.basename(path)[:-5]} | {level['checkouts_per_second']:.1f} | "
        f"{level['confirmed']['p50_ms']:.0f}, {level['confirmed']['p99_ms']:.0f} | "
        f"{level['postgres_commits_per_checkout']:.2f} | {cpu(procs):.2f} | {cpu(['postgresql']):.2f} | "
        f"{cpu(['pubsub-emulator']):.2f} | {cpu(services):.2f} | "
        f"{max(procs[p]['peak_rss_mib'] for p in services):.0f} | "
        f"{level['missing_email']}/{level['missing_push']}"
    )
