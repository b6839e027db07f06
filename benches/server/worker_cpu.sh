#!/usr/bin/env bash
# Runs a command and prints the CPU time the mock API's nginx worker spent meanwhile, so a figure
# can say what share of the machine's two cores the server itself takes (the mock must be running).
# Usage: bash benches/server/worker_cpu.sh COMMAND [ARGS...]
set -euo pipefail
RUN="${BENCH_RUN:-/tmp/recipe-bench}/server"
master="$(cat "$RUN/nginx.pid")"
worker="$(pgrep -P "$master" | head -1)"
ticks() { awk '{ print $14 + $15 }' "/proc/$worker/stat"; }
hz="$(getconf CLK_TCK)"
before="$(ticks)"; start="$(date +%s.%N)"
"$@"
after="$(ticks)"; end="$(date +%s.%N)"
python3 -c "import sys; cpu=($after-$before)/$hz; wall=$end-$start; print(f'nginx worker: {cpu:.2f} s CPU over {wall:.2f} s wall ({100*cpu/wall:.0f}% of one core)')"
