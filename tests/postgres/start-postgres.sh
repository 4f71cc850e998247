#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests, or stops one.
#
#   tests/postgres/start-postgres.sh              start; prints KCONNECT_TEST_POSTGRES=<url> and
#                                                 POSTGRES_RUN_DIR=<dir> (one per line)
#   tests/postgres/start-postgres.sh stop DIR     stop the cluster in DIR and delete DIR
#
# Uses Debian's PostgreSQL (apt-get install postgresql; .ci/run installs it). The cluster lives in
# a fresh directory under target/postgres/runs/, listens on 127.0.0.1 on a free port, and is never
# the system's cluster. Its superuser is `kconnect` with password `kconnect`, checked with
# scram-sha-256 (so a wrong connection.password is refused, as on a real server).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="$REPO_ROOT/target/postgres/runs"

die() {
  echo "error: $*" >&2
  exit 1
}

# initdb and pg_ctl of the newest installed major version (Debian keeps them off the PATH).
pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] ||
    die "PostgreSQL not found under /usr/lib/postgresql: apt-get install postgresql"
  echo "$dir"
}

# Runs a command as the owner of the data directory: PostgreSQL refuses to run as root.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ "${1:-}" = stop ]; then
  dir=${2:?usage: start-postgres.sh stop DIR}
  bin=$(pg_bin)
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi

bin=$(pg_bin)
mkdir -p "$RUNS"
dir=$(mktemp -d "$RUNS/run-XXXXXX")
chmod 755 "$RUNS" "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(free_port)
echo kconnect >"$dir/pwfile"
[ "$(id -u)" = 0 ] && chown postgres "$dir/pwfile"
as_owner "$bin/initdb" -D "$dir/data" -U kconnect --pwfile="$dir/pwfile" --auth=scram-sha-256 \
  --no-sync -E UTF8 >"$dir/initdb.log" 2>&1 ||
  die "initdb failed: $(cat "$dir/initdb.log")"
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null ||
  die "postgres did not start: $(cat "$dir/postgres.log")"
echo "KCONNECT_TEST_POSTGRES=postgres://kconnect:kconnect@127.0.0.1:$port/postgres"
echo "POSTGRES_RUN_DIR=$dir"
