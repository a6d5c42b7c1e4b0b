# Source me: start a throwaway PostgreSQL cluster on 127.0.0.1 for the store's tests and
# export BOMGUARD_TEST_PG (a DSN); the cluster is stopped and removed by pg_stop (the
# caller traps it). Installs Debian's postgresql when missing. Root cannot run the server,
# so it runs as the 'postgres' user the package creates.
pg_start() {
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq postgresql >/dev/null
    fi
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    PG_BIN=$bin
    PG_DIR=$(mktemp -d /tmp/bomguard-pg.XXXXXX)
    chown postgres "$PG_DIR"
    local password port
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf '%s\n' "$password" > "$PG_DIR/pw"
    chown postgres "$PG_DIR/pw"
    runuser -u postgres -- "$bin/initdb" -D "$PG_DIR/data" -U postgres -A scram-sha-256 \
        --pwfile="$PG_DIR/pw" >/dev/null
    runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c max_connections=200 -c fsync=off" \
        start >/dev/null
    export BOMGUARD_TEST_PG="postgresql://postgres:$password@127.0.0.1:$port/postgres"
}

pg_stop() {
    if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}
