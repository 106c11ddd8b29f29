#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need that a fresh machine
# may lack (nginx for the forward-auth gateway test, the openssl tool that makes RSA test keys).
# Tests read third-party data from
# ../shared (the SigmaHQ corpus, public sample logs) in place.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test.sh: please install: ${need[*]} (e.g. sudo apt-get install -y ${need[*]})" >&2
    exit 2
  fi
fi

exec cargo test --workspace "$@"
