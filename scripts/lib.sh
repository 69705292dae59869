# Shared by scripts/dev.sh and scripts/test.sh: bring up what the platform needs,
# only when it is not already there, and stop on exit only what we started.
#
#   PUBSUB_EMULATOR_HOST  use the emulator that answers there; else start one on
#                         127.0.0.1:8085 (or CARTFLOW_EMULATOR_PORT).
#   DATABASE_URL          use that PostgreSQL server; else start a private cluster
#                         under .work/pg on 127.0.0.1:54329 (or CARTFLOW_PG_PORT).
#   CARTFLOW_EMULATOR_JAVA_OPTS
#                         the JVM options of an emulator started here; default
#                         "-XX:+UseParallelGC -Xmn128m -XX:InitialRAMPercentage=25"
#                         (see emulator_command), empty for the JVM's own.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK_DIR="$REPO_ROOT/.work"
mkdir -p "$WORK_DIR"
export PUBSUB_PROJECT_ID="${PUBSUB_PROJECT_ID:-cartflow-local}"

STARTED_PIDS=()

log() { printf '\033[1m[cartflow]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[cartflow] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Waits up to $1 seconds for the command in $2.. to succeed.
wait_for() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

emulator_answers() { curl -fsS --max-time 2 "http://$1/" 2>/dev/null | grep -q Ok; }

# The emulator jar that `gcloud beta emulators pubsub start` runs.
emulator_jar() {
  local root
  root="$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)"
  ls "$root"/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar 2>/dev/null | sort -V | tail -n 1
}

# Prints a classpath directory holding scripts/emulator-shim compiled against `jar`, when
# that jar has the gRPC mismatch the shim repairs (see the shim's comment); nothing when
# the jar does not need it or the shim cannot be built.
emulator_shim() {
  local jar=$1 out="$WORK_DIR/emulator-shim"
  command -v javap >/dev/null && command -v javac >/dev/null || return 0
  javap -cp "$jar" io.grpc.InternalStatus 2>/dev/null | grep -q 'asRuntimeException(' && return 0
  if [[ ! -f "$out/io/grpc/InternalStatus.class" || "$out/io/grpc/InternalStatus.class" -ot "$jar" ]]; then
    rm -rf "$out"
    javac -nowarn -cp "$jar" -d "$out" "$REPO_ROOT/scripts/emulator-shim/io/grpc/InternalStatus.java" >&2 || return 0
  fi
  echo "$out"
}

# Sets EMULATOR_CMD to the command line that runs the emulator on host:port $1 in the
# foreground: the jar with its stream-reset fix when it needs one, else plain gcloud.
emulator_command() {
  local host=$1 jar shim java_opts opts="${CARTFLOW_EMULATOR_JAVA_OPTS--XX:+UseParallelGC -Xmn128m -XX:InitialRAMPercentage=25}"
  command -v gcloud >/dev/null || die "gcloud is not installed: it provides the Pub/Sub emulator (see README)"
  jar="$(emulator_jar || true)"
  shim="$([[ -n "$jar" ]] && emulator_shim "$jar" || true)"
  # The emulator keeps every message in memory until it stops, so its heap only grows.
  # On G1, the JVM's default here, the emulator spent 16–39 % more CPU of its own per
  # checkout at C = 50, on a 2-core host it shares with the platform. The parallel
  # collector with a small young generation keeps its pauses short, and the whole heap
  # (a quarter of the RAM, the JVM's own maximum) from the start keeps off the full
  # collections, stops of a second or more, until it is nearly full (docs/emulator-shim.md).
  if [[ -n "$shim" ]]; then
    read -r -a java_opts <<<"$opts"
    EMULATOR_CMD=(java ${java_opts[@]+"${java_opts[@]}"} -cp "$shim:$jar" com.google.cloud.pubsub.testing.v1.Main
      --host="${host%:*}" --port="${host##*:}")
    EMULATOR_NOTE=" with its gRPC stream-reset fix"
  else
    # The emulator's own launcher reads its JVM options from this variable.
    EMULATOR_CMD=(env "CLOUD_PUBSUB_EMULATOR_OPTS=$opts"
      gcloud beta emulators pubsub start --host-port="$host" --project="$PUBSUB_PROJECT_ID")
    EMULATOR_NOTE=""
  fi
}

ensure_emulator() {
  if [[ -n "${PUBSUB_EMULATOR_HOST:-}" ]]; then
    emulator_answers "$PUBSUB_EMULATOR_HOST" \
      || die "PUBSUB_EMULATOR_HOST=$PUBSUB_EMULATOR_HOST is set but no emulator answers there"
    log "using the Pub/Sub emulator at $PUBSUB_EMULATOR_HOST"
    return
  fi
  local host="127.0.0.1:${CARTFLOW_EMULATOR_PORT:-8085}"
  export PUBSUB_EMULATOR_HOST="$host"
  if emulator_answers "$host"; then
    log "using the Pub/Sub emulator already running at $host"
    return
  fi
  emulator_command "$host"
  # In its own session, so that stopping it stops the Java process too.
  log "starting the Pub/Sub emulator on $host$EMULATOR_NOTE (log: .work/emulator.log)"
  setsid "${EMULATOR_CMD[@]}" >"$WORK_DIR/emulator.log" 2>&1 &
  STARTED_PIDS+=("$!")
  wait_for 90 emulator_answers "$host" || die "the emulator did not start; see .work/emulator.log"
}

# Runs a PostgreSQL server binary; as root, as the postgres user (initdb refuses root).
pg_run() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin() {
  local dir
  dir="$(pg_config --bindir 2>/dev/null || true)"
  if [[ -x "$dir/initdb" ]]; then echo "$dir"; return; fi
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -x "$dir/initdb" ]] || die "PostgreSQL server binaries (initdb, pg_ctl) not found; install PostgreSQL 15"
  echo "$dir"
}

# Starts the PostgreSQL cluster in directory $1 on 127.0.0.1:$2, creating it first if
# needed. CARTFLOW_PG_FAST=1 trades durability for speed (tests, throwaway stacks).
pg_cluster_start() {
  local dir=$1 port=$2
  local data="$dir/data" run="$dir/run" bin
  bin="$(pg_bin)"
  mkdir -p "$run"
  if [[ $(id -u) -eq 0 ]]; then chown -R postgres "$dir"; fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    log "creating a PostgreSQL cluster in $dir"
    pg_run "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
      || die "initdb failed; see $dir/initdb.log"
  fi
  local options="-c listen_addresses=127.0.0.1 -p $port -k $run -c max_connections=300"
  if [[ "${CARTFLOW_PG_FAST:-0}" == 1 ]]; then
    options+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  log "starting PostgreSQL on 127.0.0.1:$port (log: $dir/server.log)"
  pg_run "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -o "$options" -w -t 60 start >/dev/null \
    || die "PostgreSQL did not start; see $dir/server.log"
}

# Stops the cluster in directory $1 (fast: open transactions are rolled back).
pg_cluster_stop() {
  pg_run "$(pg_bin)/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

ensure_postgres() {
  if [[ -n "${DATABASE_URL:-}" ]]; then
    log "using PostgreSQL at DATABASE_URL"
    return
  fi
  local port="${CARTFLOW_PG_PORT:-54329}"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port"
  if pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
    log "using the private PostgreSQL cluster already running on port $port"
    return
  fi
  pg_cluster_start "$WORK_DIR/pg" "$port"
  STARTED_PG_DIR="$WORK_DIR/pg"
}

# Headless Chromium and its WebDriver for the console's browser tests: Debian's
# chromium and chromium-driver packages, installed when missing.
ensure_browser() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    return
  fi
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing Debian's chromium and chromium-driver for the browser tests (log: .work/apt.log)"
  { $sudo apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
  } >"$WORK_DIR/apt.log" 2>&1 || die "could not install chromium and chromium-driver; see .work/apt.log"
}

# What dev.sh, test.sh and bench.sh begin with: the emulator and PostgreSQL running
# (started here unless configured), stopped again when the script exits.
start_infrastructure() {
  trap stop_started EXIT
  trap 'exit 130' INT TERM
  ensure_emulator
  ensure_postgres
  cd "$REPO_ROOT"
}

stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]:-}"; do
    [[ -n "$pid" ]] || continue
    kill -TERM -- "-$pid" 2>/dev/null || true
    # Wait (up to 15 s) so that a next run never meets a half-stopped emulator.
    wait_for 15 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [[ -n "${STARTED_PG_DIR:-}" ]]; then
    pg_cluster_stop "$STARTED_PG_DIR"
  fi
}
