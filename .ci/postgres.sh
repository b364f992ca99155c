#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the PostgreSQL store's tests and benchmarks.
#
#   eval "$(.ci/postgres.sh start)"   installs Debian's postgresql when missing, runs initdb into a temporary folder as
#                                     the non-root 'postgres' user, starts it on 127.0.0.1 and a free port, and prints
#                                     the exports: PRESENCE_POSTGRES (the connection string the tests read) and
#                                     PRESENCE_POSTGRES_STATE (the folder; the other commands need it)
#   .ci/postgres.sh pause | resume    stops / starts the same cluster on the same port (the connection-loss tests)
#   .ci/postgres.sh stop              stops the cluster and deletes its folder
set -euo pipefail

command=${1:-}
bindir() {
  local pg_ctl
  pg_ctl=$(command -v pg_ctl 2>/dev/null || true)
  if [ -z "$pg_ctl" ]; then
    pg_ctl=$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  [ -n "$pg_ctl" ] && dirname "$(readlink -f "$pg_ctl")"
}
as_postgres() { runuser -u postgres -- "$@"; }

case "$command" in
  start)
    if [ -z "$(bindir)" ] || ! id postgres >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      { apt-get install -y -qq postgresql || { apt-get update -qq && apt-get install -y -qq postgresql; }; } >&2
    fi
    bin=$(bindir)
    [ -n "$bin" ] || { echo "postgresql is not installed and could not be installed" >&2; exit 1; }
    state=$(mktemp -d /tmp/presence-postgres.XXXXXX)
    chown postgres: "$state"
    chmod 700 "$state"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    as_postgres "$bin/initdb" -D "$state/data" -U postgres --auth=trust --no-sync -E UTF8 >"$state/initdb.log" 2>&1 \
      || { cat "$state/initdb.log" >&2; exit 1; }
    # Throwaway cluster: no fsync (tests measure the library, not the disk); listens on loopback only.
    opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$state -c fsync=off -c max_connections=200"
    echo "$bin" >"$state/bin"; echo "$opts" >"$state/opts"; echo "$port" >"$state/port"
    as_postgres "$bin/pg_ctl" -D "$state/data" -l "$state/server.log" -o "$opts" -w -t 60 start >&2
    echo "export PRESENCE_POSTGRES='Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres'"
    echo "export PRESENCE_POSTGRES_STATE='$state'"
    ;;
  pause | resume | stop)
    state=${2:-${PRESENCE_POSTGRES_STATE:-}}
    [ -n "$state" ] && [ -d "$state" ] || { echo "no cluster: PRESENCE_POSTGRES_STATE is not set (run start first)" >&2; exit 1; }
    bin=$(cat "$state/bin")
    case "$command" in
      pause) as_postgres "$bin/pg_ctl" -D "$state/data" -m fast -w -t 60 stop >&2 ;;
      resume) as_postgres "$bin/pg_ctl" -D "$state/data" -l "$state/server.log" -o "$(cat "$state/opts")" -w -t 60 start >&2 ;;
      stop)
        as_postgres "$bin/pg_ctl" -D "$state/data" -m immediate -w -t 60 stop >&2 || true
        rm -rf "$state"
        ;;
    esac
    ;;
  *)
    echo "usage: $0 start | pause | resume | stop" >&2
    exit 2
    ;;
esac
