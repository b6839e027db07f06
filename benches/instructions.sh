#!/usr/bin/env bash
# Instructions per flow of a batch of benches/flow.yaml, counted by valgrind's callgrind: unlike
# times on a shared machine, the count barely moves between runs, so it shows a change of 1%.
# Two batches (100 and 300 rows) are counted and the difference divided by 200, so the start-up
# cancels out. The mock must be running (bash benches/server/start.sh).
# Usage: bash benches/instructions.sh [BINARY...]   (default target/release/recipe)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
for rows in 100 300; do { echo n; seq 1 "$rows"; } > "$work/rows$rows.csv"; done
for bin in "${@:-$here/../target/release/recipe}"; do
  count() {
    valgrind --tool=callgrind --callgrind-out-file="$work/out" "$bin" run "$here/flow.yaml" --rows "$work/rows$1.csv" \
      --key n --jobs 4 >/dev/null 2>"$work/err"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/err"
  }
  small="$(count 100)"; large="$(count 300)"
  python3 -c "print(f'{\"$bin\"}: {($large - $small) / 200 / 1e6:.4f} M instructions per flow')"
done
