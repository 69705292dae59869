#!/usr/bin/env bash
# Shows the Pub/Sub topology with gcloud, as an operator would look at it, and
# optionally checks it against the code's (terraform/topology.json, which a test keeps
# equal to `cartflow topology`).
#
#   scripts/pubsub-topology.sh --emulator 127.0.0.1:8085          # the local emulator
#   scripts/pubsub-topology.sh --project my-cartflow-prod         # a real project
#   scripts/pubsub-topology.sh --emulator 127.0.0.1:8085 --check  # exit 1 on any drift
#
# Options:
#   --emulator HOST:PORT  talk to the emulator (no credentials are sent)
#   --project ID          project (default: cartflow-local with the emulator, else gcloud's)
#   --prefix PREFIX       only resources whose short name starts with PREFIX
#   --check               compare with terraform/topology.json; print every difference
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

emulator="" project="" prefix="" check=""
while [ $# -gt 0 ]; do
  case "$1" in
    --emulator) emulator="$2"; shift 2 ;;
    --project) project="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --check) check=1; shift ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option: $1 (try --help)" >&2; exit 2 ;;
  esac
done

if [ -n "$emulator" ]; then
  export CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB="http://${emulator}/"
  export CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true
  project="${project:-cartflow-local}"
fi
project_args=()
[ -n "$project" ] && project_args=(--project "$project")

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

gcloud pubsub topics list "${project_args[@]}" --format=json > "$workdir/topics.json"
gcloud pubsub subscriptions list "${project_args[@]}" --format='value(name)' \
  | awk -F/ -v p="$prefix" 'index($NF, p) == 1 { print $NF }' > "$workdir/subscription-names"
# One `describe` per subscription, a few at a time.
mkdir -p "$workdir/subscriptions"
xargs -P 4 -I{} bash -c 'gcloud pubsub subscriptions describe "$1" "${@:3}" --format=json > "$2/$1.json"' \
  _ {} "$workdir/subscriptions" "${project_args[@]}" < "$workdir/subscription-names"

python3 "$here/topology_view.py" --dir "$workdir" --prefix "$prefix" \
  ${check:+--check "$here/../terraform/topology.json"}
