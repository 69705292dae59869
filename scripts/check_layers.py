"""The workspace's layers, from `cargo metadata`: every import points down.

  foundation   shared/*     events, api, messaging, kit, client, testkit, gateway-sandbox
  services     services/*   each on the foundation only
  composition  platform, console, cli, e2e (anything else at the top); the console
               on the foundation only: it reaches the services through their HTTP
               APIs and reads event logs through the foundation, linking none

Fails (exit 1, naming each arrow) when a foundation crate depends on a service or on
the composition layer, or a service on another service or on the composition layer,
in any dependency kind (normal, dev, build): a dev-dependency that points up is how
a service's tests came to build the whole platform. Also fails when the console's
sources run SQL of their own (`sqlx::query...`): the console reads the services'
databases only through the foundation's event log (cartflow_messaging::event_log),
never a service's own tables.

Usage: python3 scripts/check_layers.py [--metadata FILE] [--console-src DIR]
       (default: runs cargo; console/src)
"""

import json
import os
import subprocess
import sys


def layer_of(rel_dir: str) -> str:
    if rel_dir.startswith("shared" + os.sep) or rel_dir.startswith("shared/"):
        return "foundation"
    if rel_dir.startswith("services" + os.sep) or rel_dir.startswith("services/"):
        return "service"
    return "composition"


# Composition crates that may depend on the foundation only.
FOUNDATION_ONLY = {"console"}


def violations(metadata: dict) -> list[str]:
    root = metadata["workspace_root"]
    dirs = {
        p["name"]: os.path.relpath(os.path.dirname(p["manifest_path"]), root)
        for p in metadata["packages"]
    }
    found = []
    for package in metadata["packages"]:
        name = package["name"]
        layer = layer_of(dirs[name])
        for dep in package["dependencies"]:
            target = dep["name"]
            if target not in dirs or target == name:
                continue
            kind = dep.get("kind") or "normal"
            target_layer = layer_of(dirs[target])
            upward = (
                (layer == "foundation" and target_layer != "foundation")
                or (layer == "service" and target_layer != "foundation")
                or (dirs[name] in FOUNDATION_ONLY and target_layer != "foundation")
            )
            if upward:
                found.append(
                    f"{dirs[name]} ({layer}) -> {dirs[target]} ({target_layer}), {kind} dependency"
                )
    return found


def sql_in_console(src: str) -> list[str]:
    """Console source files that run SQL of their own."""
    found = []
    for folder, _, files in os.walk(src):
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".rs") and "sqlx::query" in open(path).read():
                found.append(
                    f"{path} runs SQL of its own: the console reads databases only "
                    "through cartflow_messaging::event_log"
                )
    return found


def main() -> int:
    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    console_src = args.get("--console-src", "console/src")
    if "--metadata" in args:
        with open(args["--metadata"]) as f:
            metadata = json.load(f)
    else:
        out = subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps", "--offline"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        metadata = json.loads(out)
    found = violations(metadata) + sql_in_console(console_src)
    for line in found:
        print(f"layer violation: {line}", file=sys.stderr)
    if found:
        return 1
    print(f"layers: {len(metadata['packages'])} crates, every dependency points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
