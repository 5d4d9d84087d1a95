# pg.sh - a throwaway PostgreSQL cluster for integration tests (source after lib.sh): initdb in
# $TMP, a loopback port from free_port, run as the dedicated system user spate-pg (PostgreSQL
# refuses root, and the suite runs as root in CI), stopped at the test's exit.
#   pg_available            0 if Debian's postgresql is installed (binaries in /usr/lib/postgresql/*/bin)
#   pg_start [-c opt=val]   starts it; sets PG_URL (postgresql://spate:PASSWORD@127.0.0.1:PORT/spate),
#                           PG_PASSWORD, PG_PORT
#   pg_stop [fast|immediate], pg_restart [immediate]   (immediate: a crash, WAL recovery at start)
#   pg_sql SQL              runs SQL; rows as tab-separated lines
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_OS_USER=spate-pg
PG_DIR=$TMP/pg
PG_OPTS=()

pg_available() { [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ]; }

_pg_as() {  # runs a server binary as the cluster's owner
        if [ "$(id -u)" = 0 ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

_pg_ctl_start() {
        _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
                -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 ${PG_OPTS[*]}" start >/dev/null
}

pg_start() {
        PG_OPTS=("$@")
        if [ "$(id -u)" = 0 ]; then
                id -u "$PG_OS_USER" >/dev/null 2>&1 ||
                        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER" || return 1
                chmod 711 "$TMP"   # the cluster's owner must reach its directory
        fi
        mkdir -p "$PG_DIR"
        PG_PASSWORD="pw-$RANDOM$RANDOM-secret"
        echo "$PG_PASSWORD" >"$PG_DIR/pwfile"
        [ "$(id -u)" = 0 ] && chown -R "$PG_OS_USER" "$PG_DIR"
        _pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U spate --pwfile="$PG_DIR/pwfile" --auth=scram-sha-256 \
                -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log"; return 1; }
        PG_PORT=$(free_port)
        _pg_ctl_start || { tail -5 "$PG_DIR/server.log"; return 1; }
        on_exit pg_stop immediate
        PG_URL="postgresql://spate:$PG_PASSWORD@127.0.0.1:$PG_PORT/spate"
        PGPASSWORD=$PG_PASSWORD "$PG_BIN/psql" -qAt -h 127.0.0.1 -p "$PG_PORT" -U spate -d postgres \
                -c "CREATE DATABASE spate" >/dev/null || return 1
        export PG_URL PG_PASSWORD PG_PORT
}

pg_stop() {
        [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
        _pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m "${1:-fast}" -w stop >/dev/null 2>&1
}

pg_restart() {
        pg_stop "${1:-fast}"
        _pg_ctl_start
}

pg_sql() {
        PGPASSWORD=$PG_PASSWORD PGTZ=UTC "$PG_BIN/psql" -X -qAt -F $'\t' -v ON_ERROR_STOP=1 -h 127.0.0.1 \
                -p "$PG_PORT" -U spate -d spate -c "$1"
}
