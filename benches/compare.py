#!/usr/bin/env python3
"""Side-by-side benchmark: Hurl against our command, on the same 4-step flow, in one run.

Usage (from the repository's root; OUR COMMAND defaults to benches/run-flows.sh):
  python3 benches/compare.py [--flows N] [--jobs J] [--reps R] [--no-hurl] [-- OUR COMMAND ...]
  python3 benches/compare.py --verify [-- OUR COMMAND ...]

benches/install.sh installs nginx, wrk and Hurl first. The mock API (server/start.sh) serves
127.0.0.1:18080. The flow: GET /customer/list and keep the one customer with lastName "Target"
whose first vehicle has VIN "VIN123"; GET /advisors, take the first; POST /availability with the captured values, take the first slot's start; POST /draft with every
captured value; expect 200 and a draftUuid. hurl/flow.hurl is the reference implementation.

OUR COMMAND runs that flow FLOWS times in one process (the environment gives BASE, FLOWS and JOBS)
and exits 0 only if every flow succeeded. Each rep runs Hurl then ours, alternately; the report gives
medians and the ratios ours/Hurl, which hold better than absolute times on a noisy machine.
--verify runs ours once through the body-logging proxy (BASE=http://127.0.0.1:18081) and checks that
the draft request carried the right captured values. --no-hurl times ours alone (no ratios), for a
machine without Hurl.

Every per-row answer is unique: the customer search, availability and draft answers carry a
`requestId` that nginx fills with its own request id (server/nginx.conf.in), so no client can skip
parsing by recognising a body it has seen; only the dealer's advisor list is the same for every row.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(os.environ.get("BENCH_RUN", "/tmp/recipe-bench"))
HURL = os.path.join(RUN, "peers", "bin", "hurl")
OURS = [os.path.join(HERE, "run-flows.sh")]


def timed(cmd, env, timeout=900):
    """Wall, CPU and peak RSS of one command, read from wait4 the moment it exits (no polling)."""
    with tempfile.TemporaryFile("w+") as log:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        watchdog = threading.Timer(timeout, p.kill)
        watchdog.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        watchdog.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            log.seek(0)
            sys.exit(f"command failed with exit {p.returncode}: {' '.join(cmd)}\n{log.read()[-3000:]}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mib": ru.ru_maxrss / 1024}


def ensure_server():
    subprocess.run([os.path.join(HERE, "server", "start.sh")], check=True, stdout=subprocess.DEVNULL)


def verify(ours):
    ensure_server()
    expected = json.loads(subprocess.run([sys.executable, os.path.join(HERE, "server", "gen_data.py"),
                                          os.path.join(RUN, "server", "www"), "--expect"],
                                         check=True, capture_output=True, text=True).stdout)
    log = os.path.join(RUN, "server", "verify.log")
    start = os.path.getsize(log) if os.path.exists(log) else 0
    env = dict(os.environ, BASE="http://127.0.0.1:18081", FLOWS="1", JOBS="1")
    timed(ours, env)
    time.sleep(0.3)
    with open(log) as f:
        f.seek(start)
        drafts = [line for line in f if " /draft " in line]
    if not drafts:
        sys.exit("verify: no POST /draft reached the server")
    missing = [k for k, v in expected.items() if v not in drafts[-1]]
    if missing:
        sys.exit(f"verify: the draft request lacks {missing}: {drafts[-1][:500]}")
    print("verify: the draft request carried every expected captured value")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--flows", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--no-hurl", action="store_true", help="time our command alone")
    ap.add_argument("ours", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    ours = a.ours[1:] if a.ours[:1] == ["--"] else a.ours
    ours = ours or OURS
    if a.verify:
        return verify(ours)
    names = ("ours",) if a.no_hurl else ("hurl", "ours")
    if not a.no_hurl and not os.path.exists(HURL):
        sys.exit(f"Hurl is not installed: run {os.path.join(HERE, 'install.sh')} first (or pass --no-hurl)")
    ensure_server()
    base = "http://127.0.0.1:18080"
    env = dict(os.environ, BASE=base, FLOWS=str(a.flows), JOBS=str(a.jobs))
    hurl = [HURL, "--test", "--repeat", str(a.flows), "--jobs", str(a.jobs), "--variable", f"base={base}",
            os.path.join(HERE, "hurl", "flow.hurl")]
    rows = {"hurl": [], "ours": []}
    for _ in range(a.reps):
        if not a.no_hurl:
            rows["hurl"].append(timed(hurl, env))
        rows["ours"].append(timed(ours, env))
    med = lambda name, k: statistics.median(r[k] for r in rows[name])
    ratio = lambda k: statistics.median(o[k] / h[k] for o, h in zip(rows["ours"], rows["hurl"]))
    print(f"flows={a.flows} jobs={a.jobs} reps={a.reps} (4 requests per flow; medians)")
    for name in names:
        w = med(name, "wall")
        print(f"{name:5} {a.flows / w:9.0f} flows/s  {4 * a.flows / w:9.0f} req/s  "
              f"cpu {1000 * med(name, 'cpu') / a.flows:7.3f} ms/flow  peak RSS {med(name, 'rss_mib'):7.1f} MiB")
    if a.no_hurl:
        return
    print(f"ratio ours/hurl: throughput {1 / ratio('wall'):.2f}x  cpu per flow {ratio('cpu'):.2f}  "
          f"peak RSS {ratio('rss_mib'):.2f}")


if __name__ == "__main__":
    main()
