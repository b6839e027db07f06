#!/usr/bin/env python3
"""Wall time of short commands, run alternately, medians: the replay and cold-flow figures.

Usage (from the repository's root):
  python3 benches/startup/alternate.py [--runs N] -- 'COMMAND A' 'COMMAND B' ...

Each command is a shell-free argument string (split on spaces). The commands run one after the
other, N times each, alternating, so a machine that slows down slows them all alike; each run's
wall time is read from wait4 the moment it exits. Prints each command's median and its ratio to
the first command. Every command must exit 0 (its output is discarded).
"""
import argparse, os, statistics, subprocess, sys, time


def once(argv):
    with open(os.devnull, "wb") as null:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=null, stderr=null)
        _, status, _ = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(argv)}")
    return wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("commands", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    commands = [c.split() for c in (a.commands[1:] if a.commands[:1] == ["--"] else a.commands)]
    if not commands:
        ap.error("give the commands after --")
    walls = [[] for _ in commands]
    for _ in range(a.runs):
        for i, argv in enumerate(commands):
            walls[i].append(once(argv))
    first = statistics.median(walls[0])
    for argv, w in zip(commands, walls):
        m = statistics.median(w)
        print(f"{1000 * m:8.3f} ms  {m / first:5.2f}x  {' '.join(argv)}")


if __name__ == "__main__":
    main()
