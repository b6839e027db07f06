#!/usr/bin/env bash
# Runs benches/flow.yaml FLOWS times with JOBS rows in flight, as benches/compare.py expects: the
# rows are a one-column CSV (`n`, the row key), streamed on stdin.
# Usage: FLOWS=1000 JOBS=4 BASE=http://127.0.0.1:18080 benches/run-flows.sh (THREADS=N sets `--threads`;
# RECIPE_BIN picks the binary, target/release/recipe by default)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${RECIPE_BIN:-$here/../target/release/recipe}"
{ echo n; seq 1 "${FLOWS:-1}"; } | "$bin" run "$here/flow.yaml" --rows - --key n --jobs "${JOBS:-4}" ${THREADS:+--threads "$THREADS"}
