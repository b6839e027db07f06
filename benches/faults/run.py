#!/usr/bin/env python3
"""The fault run: many batch processes killed, stopped and starved, then the books checked.

A reproducible reliability pass over `recipe run --rows` (issue 20's closing figures), not part
of `cargo test`. It starts a fault server on 127.0.0.1 (in this process), then runs campaigns:
each campaign is one CSV of rows and one results file, driven by batch processes until one of
them finishes on its own. Every process but the last gets one of:

- `kill -9` after a random delay, and then, one time in three, a torn journal (its last line cut
  part way, unless it is an intent, which was synced before its request left; or half a line
  appended);
- SIGTERM after a random delay (the batch drains; exit 143);
- `ulimit -f` so small that the results file fills up part way (exit 1 or 4, with a message);
- nothing (it may finish: then the campaign ends).

Every process runs with `--resume`. The server misbehaves on purpose: 500s, 422s, 503 and 429 with
`Retry-After`, resets before and after creating a draft, slow answers, and it echoes the API key
back upper-cased, lower-cased and mixed in every body. It counts the drafts it creates per row.

At the end it prints, over all campaigns: rows, processes, kills, SIGTERMs, torn journals, full
results files, drafts created per row (must be at most 1), rows in doubt (and how many of those
the server did create), rows lost (no last word, or `ok` with no draft), panics, and secrets
found: a sweep of every output (stdout, stderr, results files) for the key in any case, raw,
base64 and URL-encoded. It exits 1 if a row got two drafts, a row was lost, a process panicked
or a secret leaked.

    cargo build --release --locked
    python3 benches/faults/run.py                          # 75 campaigns of 40 rows, seed 20
    python3 benches/faults/run.py --campaigns 5 --rows 20  # a quick look
    python3 benches/faults/run.py --seed 7 --keep /tmp/faults   # keep every output

The same seed gives the same rows, faults and kill delays; timing still varies, so the counts
vary a little from run to run, and the invariants must hold whatever they are.
"""

import argparse
import base64
import collections
import http.server
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
RECIPE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "draft.yaml")


class Books:
    """What the server did, shared by its threads."""

    def __init__(self, seed):
        self.lock = threading.Lock()
        self.random = random.Random(seed)
        self.drafts = collections.Counter()  # VIN -> drafts created
        self.keys_seen = collections.Counter()  # the API key as received, checked once at the end
        self.requests = 0

    def draw(self):
        with self.lock:
            self.requests += 1
            return self.random.random()


def echoes(key):
    """The key as a careless server echoes it: upper, lower and mixed case."""
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(key))
    return {"upper": key.upper(), "lower": key.lower(), "mixed": mixed}


def handler(books):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=()):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def reset(self):
            """Closes the connection with a RST, no answer."""
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()

        def do_GET(self):
            key = self.headers.get("x-api-key", "")
            with books.lock:
                books.keys_seen[key] += 1
            draw = books.draw()
            if draw < 0.05:
                return self.reply(500, {"message": f"lookup broke for key {echoes(key)['upper']}"})
            if draw < 0.08:
                time.sleep(0.3)
            self.reply(200, {"found": True, "echo": echoes(key)["mixed"]})

        def do_POST(self):
            key = self.headers.get("x-api-key", "")
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
            vin = body.get("vin", "")
            draw = books.draw()
            if draw < 0.02:
                return self.reply(503, {"message": f"busy, key {echoes(key)['lower']}"}, [("retry-after", "1")])
            if draw < 0.04:
                return self.reply(429, {"message": "slow down"}, [("retry-after", "1")])
            if draw < 0.08:
                return self.reply(422, {"message": f"refused for {echoes(key)['upper']}: vin {vin}"})  # a plain failure
            if draw < 0.12:
                return self.reset()  # not created, but the client cannot know
            if draw < 0.16:
                return self.reply(500, {"message": f"failed for {echoes(key)['mixed']}"})  # not created
            with books.lock:
                books.drafts[vin] += 1
                number = books.drafts[vin]
            if draw < 0.20:
                return self.reset()  # created, and the answer lost
            if draw < 0.26:
                time.sleep(0.4)  # created; a kill may land while the answer is on its way
            self.reply(201, {"id": f"d-{vin}-{number}", "note": f"made with {echoes(key)['upper']}"})

    return Handler


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client killed mid-answer: expected here


def start_server(books):
    server = Server(("127.0.0.1", 0), handler(books))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def vin(rng):
    return "".join(rng.choice(VIN_CHARS) for _ in range(17))


def last_words(path):
    """The last word on each key of a results file, and its unreadable lines."""
    words, garbled = {}, 0
    try:
        lines = open(path, "rb").read().split(b"\n")
    except FileNotFoundError:
        return words, garbled
    for line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            garbled += 1
            continue
        key = value.get("key")
        if key is None:
            continue
        if "intent" in value:
            words[key] = "intent"
        elif "not_processed" in value:
            words[key] = "not_processed"
        elif "outcome" in value:
            words[key] = value["outcome"]
    return words, garbled


def tear(path, rng):
    """Tears the journal as a crash mid-write would: cuts its last line part way, or appends half
    a line. A whole intent line is never cut: its request left only once the line was synced, so
    no crash can tear it afterwards (cutting it would model a disk that loses synced data, which
    no journal survives)."""
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        return False
    if not data:
        return False
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if rng.random() < 0.5 and b'"intent"' not in last:
        with open(path, "r+b") as f:
            f.truncate(max(0, len(data) - rng.randint(1, min(40, len(last)))))
    else:
        with open(path, "ab") as f:
            f.write(b'{"row": 3, "key": "torn", "outco')
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default="target/release/recipe")
    parser.add_argument("--campaigns", type=int, default=75)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--max-processes", type=int, default=12, help="per campaign, the last one left alone")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--keep", help="write every output under this folder and keep it")
    args = parser.parse_args()

    binary = os.path.abspath(args.bin)  # the processes run in their campaign's folder
    rng = random.Random(args.seed)
    books = Books(args.seed)
    server = start_server(books)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    secret = "Sweep-" + "".join(rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(20))
    root = args.keep or tempfile.mkdtemp(prefix="recipe-faults-")
    os.makedirs(root, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    env.update(FAULT_BASE_URL=base, FAULT_API_KEY=secret)

    counts = collections.Counter()
    exits = collections.Counter()
    all_rows = {}  # VIN -> campaign
    in_doubt_rows, lost, unfinished = [], [], []
    started = time.monotonic()
    for campaign in range(args.campaigns):
        folder = os.path.join(root, f"c{campaign:03}")
        os.makedirs(folder, exist_ok=True)
        vins = []
        while len(vins) < args.rows:
            candidate = vin(rng)
            if candidate not in all_rows:
                all_rows[candidate] = campaign
                vins.append(candidate)
        with open(os.path.join(folder, "rows.csv"), "w") as f:
            f.write("vin,last_name\n" + "".join(f"{v},Name{i}\n" for i, v in enumerate(vins)))
        out = os.path.join(folder, "results.jsonl")
        done = False
        for attempt in range(args.max_processes):
            last = attempt == args.max_processes - 1
            action = "none" if last else rng.choices(["kill", "term", "ulimit", "none"], [50, 15, 10, 25])[0]
            delay = rng.uniform(0.02, 0.8)
            command = [
                binary, "run", RECIPE, "--rows", "rows.csv", "--key", "vin", "--out", "results.jsonl",
                "--jobs", str(args.jobs), "--resume", "--breaker", "0",
            ]  # fmt: skip
            if action == "ulimit":
                # 512-byte blocks: room for what the file holds, the batch line and a few rows.
                held = os.path.getsize(out) if os.path.exists(out) else 0
                blocks = held // 512 + rng.randint(1, 4)
                command = ["sh", "-c", f'ulimit -f {blocks} && exec "$0" "$@"'] + command
            name = f"p{attempt:02}-{action}"
            # stdout and stderr through pipes: under `ulimit -f` a file would fill up too.
            child = subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            counts["processes"] += 1
            if action in ("kill", "term"):
                try:
                    child.wait(timeout=delay)
                except subprocess.TimeoutExpired:
                    child.send_signal(signal.SIGKILL if action == "kill" else signal.SIGTERM)
                    counts["kills" if action == "kill" else "sigterms"] += 1
            try:
                stdout, stderr = child.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()
                stdout, stderr = child.communicate()
                counts["hung"] += 1
            with open(os.path.join(folder, f"{name}.stdout"), "wb") as f:
                f.write(stdout)
            with open(os.path.join(folder, f"{name}.stderr"), "wb") as f:
                f.write(stderr)
            code = child.returncode
            exits[code] += 1
            if b"panicked" in stderr:
                counts["panics"] += 1
            if action == "ulimit" and code in (1, 4) and b"cannot write the results file" in stderr:
                counts["full results files"] += 1
            if code == -signal.SIGKILL and rng.random() < 1 / 3 and tear(out, rng):
                counts["torn journals"] += 1
            if code in (0, 1, 5) and action in ("none", "term"):
                # It ended on its own: every row has its last word.
                done = True
                break
        if not done:
            unfinished.append(campaign)
        words, garbled = last_words(out)
        counts["garbled lines read"] += garbled
        for v in vins:
            word = words.get(v)
            if word in (None, "intent", "not_processed"):
                lost.append((campaign, v, word))
            elif word == "in_doubt":
                in_doubt_rows.append(v)
            elif word == "ok" and books.drafts[v] == 0:
                lost.append((campaign, v, "ok without a draft"))
            counts[f"rows {word}"] += 1
        print(f"campaign {campaign:3}: {counts['processes']:4} processes so far, {time.monotonic() - started:6.1f}s", file=sys.stderr, flush=True)
    server.shutdown()

    # The sweep: every output, for the key in any case, raw, base64 and URL-encoded.
    forms = {secret.lower(), base64.b64encode(secret.encode()).decode().lower(), urllib.parse.quote(secret, safe="").lower()}
    leaks = []
    swept = 0
    for directory, _, files in os.walk(root):
        for file in files:
            if file == "rows.csv":
                continue
            text = open(os.path.join(directory, file), "rb").read().decode("utf-8", "replace").lower()
            swept += 1
            leaks.extend(f"{file} in {directory}" for form in forms if form in text)

    drafts_max = max((books.drafts[v] for v in all_rows), default=0)
    twice = [v for v in all_rows if books.drafts[v] > 1]
    doubt_created = sum(1 for v in in_doubt_rows if books.drafts[v] > 0)
    elapsed = time.monotonic() - started
    print(f"rows: {len(all_rows)} in {args.campaigns} campaigns; processes: {counts['processes']} in {elapsed:.0f}s")
    print(f"kill -9: {counts['kills']}; SIGTERM: {counts['sigterms']}; torn journals: {counts['torn journals']}; "
          f"full results files (ulimit -f): {counts['full results files']}")  # fmt: skip
    print(f"exit statuses: {dict(sorted(exits.items()))}")
    print(f"last words: ok {counts['rows ok']}, failed {counts['rows failed']}, in doubt {counts['rows in_doubt']}")
    print(f"drafts created: {sum(books.drafts[v] for v in all_rows)}; most per row (per idempotency key): {drafts_max}; rows with two or more: {len(twice)}")
    print(f"rows in doubt: {len(in_doubt_rows)} (the server had created a draft for {doubt_created}, none for {len(in_doubt_rows) - doubt_created})")
    print(f"rows lost: {len(lost)}; campaigns not finished: {len(unfinished)}; panics: {counts['panics']}; hung: {counts['hung']}")
    print(f"secret sweep: {swept} files, {len(leaks)} with the key (forms: raw, base64, URL-encoded; any case)")
    print(f"the server received the key intact in {sum(n for k, n in books.keys_seen.items() if k == secret)} of {sum(books.keys_seen.values())} lookups")
    for item in (twice + lost + leaks)[:20]:
        print("  ", item)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    sys.exit(1 if twice or lost or leaks or counts["panics"] or unfinished else 0)


if __name__ == "__main__":
    main()
