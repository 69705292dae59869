#!/usr/bin/env bash
# Throwaway infrastructure for the fault tests that restart PostgreSQL or the Pub/Sub
# emulator: they need their own, since restarting the shared ones would break every
# test running beside them. Same binaries and settings as scripts/lib.sh uses.
#
#   scripts/infra.sh postgres-start DIR PORT   create (first time) and start a cluster
#   scripts/infra.sh postgres-stop DIR         stop it (fast: open transactions roll back)
#   scripts/infra.sh emulator HOST:PORT        run an emulator in the foreground
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  postgres-start)
    [[ $# -eq 3 ]] || die "usage: $0 postgres-start DIR PORT"
    CARTFLOW_PG_FAST=1 pg_cluster_start "$2" "$3"
    ;;
  postgres-stop)
    [[ $# -eq 2 ]] || die "usage: $0 postgres-stop DIR"
    pg_cluster_stop "$2"
    ;;
  emulator)
    [[ $# -eq 2 ]] || die "usage: $0 emulator HOST:PORT"
    emulator_command "$2"
    exec "${EMULATOR_CMD[@]}"
    ;;
  *)
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
