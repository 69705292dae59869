#!/usr/bin/env bash
# Samples pg_stat_activity every 20 ms for $1 seconds into $2.
end=$((SECONDS + $1))
while [ $SECONDS -lt $end ]; do
  echo "SELECT datname, coalesce(wait_event_type,'CPU'), coalesce(wait_event,'-'), left(regexp_replace(query, '\s+', ' ', 'g'), 70) FROM pg_stat_activity WHERE state = 'active' AND datname LIKE 'cartflow%';"
  sleep 0.02
done | psql -h 127.0.0.1 -p 54329 -U postgres -d postgres -Atq -F $'\t' > $2
