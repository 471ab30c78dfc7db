#!/usr/bin/env bash
# Check deploy/nginx.conf without Docker: two replicas of the app on this machine behind nginx (HTTPS with a
# self-signed certificate), once with the config as it is (sticky sessions: every upload and the verdict must
# work, the security headers must be there and the Content-Security-Policy must refuse nothing of the app's)
# and once without its `hash` line (round robin: an upload must fail with 400); the load client's sessions go
# through it while one replica is killed (they must reopen on the other); then one replica is killed
# while four browser sessions are open: its sessions must come back on the other with their scenario, the others
# must carry on. Needs nginx (apt-get install nginx-light), openssl, Debian's Chromium and the test
# requirements (make test installs Playwright).
#
#   deploy/check_local.sh            # ports 8610 (sticky proxy), 8620 (round robin), 8611-8612 (replicas)
#   BASE_PORT=9610 deploy/check_local.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_PORT=${BASE_PORT:-8610}
PY=${PY:-.venv/bin/python}
WORK=$(mktemp -d /tmp/dsl-proxy-check.XXXXXX)
chmod 755 "$WORK"   # nginx's workers (not root) buffer large answers, such as plotly's 4.7 MB chunk, in here
SECRET=$("$PY" -c 'import secrets; print(secrets.token_hex(32))')   # one secret, shared by both replicas
PIDS=()
NGINX_CONFS=()

stop() {
    for conf in "${NGINX_CONFS[@]}"; do nginx -c "$conf" -g "pid ${conf%.conf}.pid;" -s quit 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    echo "stopped; logs in $WORK"
}
trap stop EXIT

start_replica() {  # start_replica I: replica I on port BASE_PORT + I (its pid in PIDS[I - 1])
    local port=$((BASE_PORT + $1))
    STREAMLIT_SERVER_COOKIE_SECRET=$SECRET DSL_TORCH_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
        OPENBLAS_NUM_THREADS=1 DSL_RESULT_STORE=off \
        "$PY" -m streamlit run app.py --server.port "$port" --server.address 127.0.0.1 --server.headless true \
        >> "$WORK/replica$1.log" 2>&1 &
    PIDS[$(($1 - 1))]=$!
}

wait_replica() {
    for _ in $(seq 120); do
        curl -sf "http://127.0.0.1:$((BASE_PORT + $1))/_stcore/health" >/dev/null && return
        sleep 0.5
    done
}

start_replica 1
start_replica 2

# deploy/nginx.conf with the replicas' addresses, a local port, and logs and temporary files in $WORK.
variant() {  # variant NAME LISTEN_PORT [round-robin]
    local conf="$WORK/$1.conf"
    sed -e "s|server app:8501 max_fails=3 fail_timeout=10s;|server 127.0.0.1:$((BASE_PORT + 1)) max_fails=3 fail_timeout=10s;\n        server 127.0.0.1:$((BASE_PORT + 2)) max_fails=3 fail_timeout=10s;|" \
        -e "s|listen 443 ssl;|listen 127.0.0.1:$2 ssl;|" \
        -e "s|listen 80;|listen 127.0.0.1:$(($2 + 5));|" \
        -e "s|/etc/nginx/certs/|$WORK/certs/|" \
        -e "s|access_log /dev/stdout replica;|access_log $WORK/$1-access.log replica;|" \
        -e "s|error_log /dev/stderr warn;|error_log $WORK/$1-error.log warn;|" \
        -e "s|^http {|http {\n    client_body_temp_path $WORK/$1-body;\n    proxy_temp_path $WORK/$1-proxy;|" \
        deploy/nginx.conf > "$conf"
    if [ "${3:-}" = round-robin ]; then sed -i 's|^        hash \$dsl_replica consistent;|        # no hash: round robin|' "$conf"; fi
    nginx -c "$conf" -g "pid $WORK/$1.pid; error_log $WORK/$1-error.log;" -t -q
    nginx -c "$conf" -g "pid $WORK/$1.pid; error_log $WORK/$1-error.log;"
    NGINX_CONFS+=("$conf")
}

# A self-signed certificate for 127.0.0.1, as deploy/nginx.conf's TLS server expects one in certs/.
mkdir -p "$WORK/certs"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$WORK/certs/privkey.pem" -out "$WORK/certs/fullchain.pem" 2>/dev/null

wait_replica 1
wait_replica 2
variant sticky "$BASE_PORT"
variant round-robin $((BASE_PORT + 10)) round-robin
echo "the sticky config differs from deploy/nginx.conf only in:"
diff deploy/nginx.conf "$WORK/sticky.conf" || true

echo "== plain HTTP: a redirect to HTTPS"
curl -s -o /dev/null -w "%{http_code} -> %{redirect_url}\n" "http://127.0.0.1:$((BASE_PORT + 5))/your_data"
echo "== sticky sessions (deploy/nginx.conf, HTTPS): expect the verdict in every browser, the security headers"
"$PY" deploy/check_proxy.py "https://127.0.0.1:$BASE_PORT" "$WORK/sticky-access.log" --contexts 3 \
    --expect verdict --out "$WORK/sticky" --insecure --headers
echo "== round robin (the same without its hash line): expect an upload answered 400"
"$PY" deploy/check_proxy.py "https://127.0.0.1:$((BASE_PORT + 10))" "$WORK/round-robin-access.log" --contexts 2 \
    --expect upload-error --out "$WORK/round-robin" --insecure
echo "== load through the proxy: the load client's sessions, replica 2 killed mid-load; then it is started again"
"$PY" deploy/check_load.py "https://127.0.0.1:$BASE_PORT" "$WORK/sticky-access.log" \
    "127.0.0.1:$((BASE_PORT + 2))=${PIDS[1]}" --insecure --json "$WORK/load.json"
wait "${PIDS[1]}" 2>/dev/null || true
start_replica 2
wait_replica 2
echo "== failover: kill the replica that serves one session; its sessions must come back on the other replica"
"$PY" deploy/check_proxy.py "https://127.0.0.1:$BASE_PORT" "$WORK/sticky-access.log" --contexts 4 \
    --expect failover --insecure --headers \
    --replicas "127.0.0.1:$((BASE_PORT + 1))=${PIDS[0]},127.0.0.1:$((BASE_PORT + 2))=${PIDS[1]}"
