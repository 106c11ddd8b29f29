#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need that a fresh machine
# may lack (nginx for the forward-auth gateway test, the openssl tool that makes RSA test keys,
# the Python SMTP server aiosmtpd for the notification test, PostgreSQL, Chromium and the npm
# packages of the web UI and its browser test).
# Tests read third-party data from
# ../shared (the SigmaHQ corpus, public sample logs) in place.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# The web UI's browser test: Debian's headless Chromium, driven from Node.js.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test.sh: please install: ${need[*]} (e.g. sudo apt-get install -y ${need[*]})" >&2
    exit 2
  fi
fi

# The web UI's one npm step: Chart.js (embedded in the binary by crates/server/build.rs) and
# playwright-core (the browser-test driver), pinned by crates/server/ui/package-lock.json.
if [ ! -f crates/server/ui/node_modules/.package-lock.json ] \
   || [ crates/server/ui/package-lock.json -nt crates/server/ui/node_modules/.package-lock.json ]; then
  echo "test.sh: npm ci in crates/server/ui" >&2
  npm ci --prefix crates/server/ui --no-audit --no-fund >/dev/null
fi

# The serve notification test receives mail with a real SMTP server: aiosmtpd (PyPI).
if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "test.sh: installing aiosmtpd (pip) for the notification tests" >&2
  python3 -m pip install -q aiosmtpd >/dev/null 2>&1 || {
    echo "test.sh: please install the Python package aiosmtpd (pip install aiosmtpd)" >&2
    exit 2
  }
fi

# The store and service suites also run against PostgreSQL on 127.0.0.1:5432 (user postgres,
# database test, trust auth on loopback). Start one where none runs and we may install it;
# elsewhere those runs are skipped with a note.
pg_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
if ! pg_up; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: starting a PostgreSQL for the tests" >&2
    command -v pg_ctlcluster >/dev/null 2>&1 || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    }
    ver=$(ls /etc/postgresql | sort -V | tail -1)
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    if ! grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
      sed -i '1i host all postgres ::1/128 trust' "$hba"
      sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    fi
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
    for _ in $(seq 30); do pg_up && break; sleep 1; done
    su postgres -c "psql -qc 'CREATE DATABASE test'" >/dev/null 2>&1 || true
  else
    echo "test.sh: no PostgreSQL on 127.0.0.1:5432; its test runs will be skipped" >&2
  fi
fi

exec cargo test --workspace "$@"
