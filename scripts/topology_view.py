"""Prints what gcloud shows of a Pub/Sub topology and, with --check, compares it with
the declared one (terraform/topology.json). Used by scripts/pubsub-topology.sh."""

import argparse
import json
import pathlib
import sys


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def seconds(duration):
    return None if duration is None else int(float(duration.rstrip("s")))


def live_subscription(raw: dict, prefix: str) -> dict:
    dead = raw.get("deadLetterPolicy") or {}
    retry = raw.get("retryPolicy") or {}
    unprefix = lambda n: None if n is None else short(n)[len(prefix):]
    return {
        "topic": unprefix(raw.get("topic")),
        "ack_deadline_seconds": raw.get("ackDeadlineSeconds"),
        "enable_message_ordering": bool(raw.get("enableMessageOrdering", False)),
        "dead_letter_topic": unprefix(dead.get("deadLetterTopic")),
        "max_delivery_attempts": dead.get("maxDeliveryAttempts"),
        "minimum_backoff_seconds": seconds(retry.get("minimumBackoff")),
        "maximum_backoff_seconds": seconds(retry.get("maximumBackoff")),
        "push_endpoint": (raw.get("pushConfig") or {}).get("pushEndpoint"),
        "message_retention_seconds": seconds(raw.get("messageRetentionDuration")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True, type=pathlib.Path)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--check", type=pathlib.Path)
    args = parser.parse_args()
    prefix = args.prefix

    topics = sorted(
        short(t["name"])[len(prefix):]
        for t in json.loads((args.dir / "topics.json").read_text())
        if short(t["name"]).startswith(prefix)
    )
    subscriptions = {
        path.stem[len(prefix):]: live_subscription(json.loads(path.read_text()), prefix)
        for path in sorted((args.dir / "subscriptions").glob("*.json"))
    }

    print(f"{len(topics)} topics")
    for name in topics:
        print(f"  {name}")
    print(f"{len(subscriptions)} subscriptions")
    for name, s in sorted(subscriptions.items()):
        policy = (
            f"dead-letter after {s['max_delivery_attempts']} → {s['dead_letter_topic']}, "
            f"retry {s['minimum_backoff_seconds']}s..{s['maximum_backoff_seconds']}s"
            if s["dead_letter_topic"]
            else "parking (no dead-letter policy)"
        )
        delivery = f"push → {s['push_endpoint']}" if s["push_endpoint"] else "pull"
        print(f"  {name} ← {s['topic']}: ack {s['ack_deadline_seconds']}s, {policy}, {delivery}")

    if not args.check:
        return 0
    declared = json.loads(args.check.read_text())
    problems = []
    want_topics = sorted(t["name"] for t in declared["topics"])
    for name in sorted(set(want_topics) - set(topics)):
        problems.append(f"topic {name}: declared, missing")
    for name in sorted(set(topics) - set(want_topics)):
        problems.append(f"topic {name}: exists, not declared")
    want = {s["name"]: s for s in declared["subscriptions"]}
    for name in sorted(set(want) - set(subscriptions)):
        problems.append(f"subscription {name}: declared, missing")
    for name in sorted(set(subscriptions) - set(want)):
        problems.append(f"subscription {name}: exists, not declared")
    for name in sorted(set(want) & set(subscriptions)):
        live = subscriptions[name]
        for field, value in want[name].items():
            if field in ("name", "consumer"):
                continue
            if live.get(field) != value:
                problems.append(f"subscription {name}: {field} is {live.get(field)!r}, declared {value!r}")
    if problems:
        print(f"\nDRIFT: {len(problems)} difference(s) from {args.check}:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"\nmatches {args.check}: {len(want_topics)} topics, {len(want)} subscriptions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
