#!/usr/bin/env bash
# Installs what the Hurl comparison needs, from the package registries only: nginx (the mock API),
# wrk (the ceiling), GNU time and valgrind (benches/instructions.sh) from Debian's packages, and Hurl 8.0.1 from crates.io (8.1 needs
# a newer Rust than 1.95; the build takes 3 to 4 minutes and needs libcurl and libxml2 headers).
# Idempotent. Hurl goes to $BENCH_RUN/peers/bin (default /tmp/recipe-bench), outside the clone.
# Usage: benches/install.sh            (NO_HURL=1 skips Hurl: enough for `compare.py --no-hurl`)
set -euo pipefail
ROOT="${BENCH_RUN:-/tmp/recipe-bench}/peers"
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
need=(); for p in nginx wrk /usr/bin/time valgrind; do command -v "$p" >/dev/null || need+=("$p"); done
headers=(libclang-dev libcurl4-openssl-dev libxml2-dev pkg-config)
if [ ${#need[@]} -gt 0 ] || { [ -z "${NO_HURL:-}" ] && ! dpkg -s "${headers[@]}" >/dev/null 2>&1; }; then
  packages=(nginx-light wrk time valgrind); [ -n "${NO_HURL:-}" ] || packages+=("${headers[@]}")
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi
nginx -V 2>&1 | grep -q -- --with-http_sub_module || { echo "this nginx lacks the sub module (unique answers need it)"; exit 1; }
if [ -z "${NO_HURL:-}" ]; then
  [ -x "$ROOT/bin/hurl" ] || cargo install hurl --version 8.0.1 --locked --root "$ROOT"
  "$ROOT/bin/hurl" --version | head -1
fi
echo "ready: nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
