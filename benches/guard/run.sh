#!/usr/bin/env bash
# Gateway throughput: wrk -> nginx (auth_request) -> stormwatch guard -> static file, all on
# loopback. Prints one markdown table row per scenario: the median of $RUNS wrk runs.
#
#   benches/guard/run.sh                      # builds target/release/stormwatch if missing
#   STORMWATCH=/path/to/stormwatch RUNS=5 DURATION=10s CONNS=32 benches/guard/run.sh
#
# Needs nginx, wrk, openssl and python3 (Debian: apt-get install -y nginx wrk openssl python3).
# Scenarios: static (nginx alone, no auth), valid token with the verified-token cache, valid
# token with the cache off (RS256 verification on every request), forged token (Storm-0558
# shape: consumer key, enterprise claims -> 401 key_issuer_mismatch, verified and audited on
# every request). Traffic goes to 127.0.0.1 only; every run is bounded by DURATION.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${STORMWATCH:-$ROOT/target/release/stormwatch}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
TENANT=72f988bf-86f1-41af-91ab-2d7cd011db47
CONSUMER=9188040d-6c67-4c5b-b112-36a304b66dad
AUD=api://stormwatch-bench

for tool in nginx wrk openssl python3; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "run.sh: $tool is required" >&2; exit 2; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$BIN" ]; then
    (cd "$ROOT" && cargo build --release -p stormwatch)
fi

WORK=$(mktemp -d /tmp/stormwatch-guard-bench.XXXXXX)
GUARD_PID=""
NGINX_PID=""
cleanup() {
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
    [ -n "$GUARD_PID" ] && kill "$GUARD_PID" 2>/dev/null && wait "$GUARD_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 200); do
        (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "run.sh: nothing listening on port $1" >&2
    exit 1
}

# Keys, JWKS (issuer-bound, like Microsoft's multi-tenant set) and tokens.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/tenant.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/consumer.pem" 2>/dev/null
python3 - "$WORK" "$TENANT" "$CONSUMER" "$AUD" <<'PY'
import base64, json, subprocess, sys, time
work, tenant, consumer, aud = sys.argv[1:5]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def modulus(pem):
    out = subprocess.run(["openssl", "rsa", "-in", pem, "-noout", "-modulus"], capture_output=True, text=True, check=True).stdout
    return b64(bytes.fromhex(out.strip().split("=", 1)[1]))
def sign(pem, kid, claims):
    head = b64(json.dumps({"typ": "JWT", "alg": "RS256", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", pem], input=f"{head}.{body}".encode(), capture_output=True, check=True).stdout
    return f"{head}.{body}.{b64(sig)}"
keys = [
    {"kty": "RSA", "use": "sig", "kid": "tenant", "n": modulus(f"{work}/tenant.pem"), "e": "AQAB",
     "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"},
    {"kty": "RSA", "use": "sig", "kid": "consumer", "n": modulus(f"{work}/consumer.pem"), "e": "AQAB",
     "issuer": f"https://login.microsoftonline.com/{consumer}/v2.0"},
]
json.dump({"keys": keys}, open(f"{work}/jwks.json", "w"))
now = int(time.time())
claims = {"aud": aud, "iss": f"https://login.microsoftonline.com/{tenant}/v2.0", "tid": tenant,
          "iat": now - 60, "nbf": now - 60, "exp": now + 7200, "sub": "bench-user", "scp": "Mail.Read"}
open(f"{work}/valid.txt", "w").write(sign(f"{work}/tenant.pem", "tenant", claims))
open(f"{work}/forged.txt", "w").write(sign(f"{work}/consumer.pem", "consumer", claims))
PY

GUARD_PORT=$(free_port)
start_guard() {
    "$BIN" --quiet guard --jwks "$WORK/jwks.json" --audience "$AUD" --tenant "$TENANT" \
        --listen "127.0.0.1:$GUARD_PORT" --audit-log "$WORK/audit.jsonl" "$@" &
    GUARD_PID=$!
    wait_port "$GUARD_PORT"
}
stop_guard() {
    kill "$GUARD_PID" && wait "$GUARD_PID" || true
    GUARD_PID=""
}

NGINX_PORT=$(free_port)
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp" "$WORK/www/static"
echo ok > "$WORK/www/index.html"
echo ok > "$WORK/www/static/index.html"
cat > "$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    upstream stormwatch_guard { server 127.0.0.1:$GUARD_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        location = /_stormwatch_auth {
            internal;
            proxy_pass http://stormwatch_guard/auth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI \$request_uri;
            proxy_set_header X-Forwarded-For \$remote_addr;
        }
        location /static/ { }
        location / {
            auth_request /_stormwatch_auth;
            auth_request_set \$auth_subject \$upstream_http_x_auth_subject;
            add_header X-Auth-Subject \$auth_subject;
        }
    }
}
CONF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" &
NGINX_PID=$!
wait_port "$NGINX_PORT"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench() { # name, path, token-file-or-empty
    local name=$1 path=$2 token=${3:-} rps=() p99=() out
    for _ in $(seq 1 "$RUNS"); do
        if [ -n "$token" ]; then
            out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "Authorization: Bearer $(cat "$token")" "http://127.0.0.1:$NGINX_PORT$path")
        else
            out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$NGINX_PORT$path")
        fi
        rps+=("$(echo "$out" | awk '/Requests\/sec/ {print $2}')")
        p99+=("$(echo "$out" | awk '$1 == "99%" {print $2}')")
        status=$(echo "$out" | awk '/Non-2xx/ {print "non-2xx " $NF}')
    done
    printf '| %s | %s | %s | %s |\n' "$name" \
        "$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${p99[@]}" | tr '\n' ' ')" "${status:-all 2xx}"
}

echo "| scenario | requests/s (median of $RUNS) | p99 latency per run | responses |"
echo "| --- | --- | --- | --- |"
start_guard
bench "nginx static, no auth (baseline)" /static/
bench "valid RS256 token, verified-token cache on" / "$WORK/valid.txt"
bench "forged token (consumer key) -> 401 key_issuer_mismatch" / "$WORK/forged.txt"
stop_guard
start_guard --cache-capacity 0
bench "valid RS256 token, cache off (verify every request)" / "$WORK/valid.txt"
stop_guard
echo
echo "audit records written (all runs): $(wc -l < "$WORK/audit.jsonl")"
