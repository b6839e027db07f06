#!/usr/bin/env bash
# Optional visual check of the HTML reports (not run by CI): writes three reports and takes a
# screenshot of each with headless Chromium, offline (the reports load nothing from anywhere).
#
#   apt-get install -y chromium      # once (Debian); any Chromium or Chrome works
#   scripts/screenshot-report.sh [OUT_DIR]      # default /tmp/recipe-report-check
#
# Then look at OUT_DIR/*.png: the recipe name and outcome at the top, the steps table with a
# badge, the full URL, the response status and the time of each step, the folded requests and
# responses (a failed step's response unfolded), and for `recipe test` the cases with verdicts
# and the diff of the one changed case.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/recipe-report-check}"
mkdir -p "$out"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "error: no chromium found; install it (apt-get install -y chromium)" >&2
  exit 2
fi
cargo build --quiet
recipe="${CARGO_TARGET_DIR:-target}/debug/recipe"
"$recipe" -q run recipes/draft.yaml --replay recipes/fixtures/draft/happy_path.yaml --report html --report-file "$out/run.html" >/dev/null
"$recipe" -q run tests/data/whoami.yaml --replay tests/data/replays/whoami-401.yaml --report html --report-file "$out/run-failed.html" 2>/dev/null || true
# A copy of the recipes where one snapshot no longer matches, so the test report shows a diff.
rm -rf "$out/recipes" && cp -r recipes "$out/recipes"
sed -i 's/source: email/source: sms/' "$out/recipes/fixtures/draft/snapshots/happy_path.snap"
"$recipe" -q test "$out/recipes" --report html --report-file "$out/test.html" 2>/dev/null || true
for page in run run-failed test; do
  # No network at all: a report that tried to load something would show it missing.
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --proxy-server='127.0.0.1:9' \
    --window-size=1200,1600 --screenshot="$out/$page.png" "file://$(realpath "$out/$page.html")" 2>/dev/null
  echo "$out/$page.png"
done
