#!/usr/bin/env python3
"""Times `recipe check` on generated adversarial recipes of about 1 MB each.

The promise (issue 20): `recipe check` of any input under 1 MB finishes in under a second. Each
generator below writes one recipe just under 1 MB (1,000,000 bytes) that stresses one part of the
front end: the YAML reader (many keys, duplicate keys, aliases, nesting, long strings), decoding
(unknown keys and their "did you mean"), and the check (many steps, many templates, many names in
scope, many problems). Valid and invalid inputs alike: an input the check refuses must be refused
as quickly.

    cargo build --release --locked
    python3 benches/check_limits.py                     # target/release/recipe, 5 runs each
    python3 benches/check_limits.py --bin target/debug/recipe --runs 3 --keep /tmp/check-inputs

It prints one line per input (size, exit status, median and worst wall time, lines of output)
and exits 1 if any run took a second or more. Wall times come from `time.perf_counter` around
each child process, start-up included.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

LIMIT = 1_000_000  # bytes: every generated input stays under it
HEADER = "recipe: 1\nname: stress\n"


def fill(head, item, tail="", limit=LIMIT):
    """head + item(0) + item(1) + ... + tail, as many items as fit under `limit` bytes (or until
    an item is None)."""
    parts, size, n = [head], len(head) + len(tail), 0
    while True:
        text = item(n)
        if text is None or size + len(text) >= limit:
            break
        parts.append(text)
        size += len(text)
        n += 1
    parts.append(tail)
    return "".join(parts)


def many_inputs():
    # 9,000 declared inputs (under the 10,000 keys of one map), each read by one output.
    n = 9000
    head = HEADER + "inputs:\n" + "".join(f"  in_{i:05}: {{ type: string, default: v }}\n" for i in range(n))
    head += "steps:\n  - id: a\n    set: { x: 1 }\noutputs:\n"
    return fill(head, lambda i: f"  out_{i:05}: \"{{{{ inputs.in_{i % n:05} }}}} {'x' * 40}\"\n" if i < 9000 else None)


def many_keys_in_many_maps():
    # Steps whose `set` maps hold hundreds of keys each.
    def step(i):
        keys = ", ".join(f"k{j}: {j}" for j in range(300))
        return f"  - id: s{i}\n    set: {{ {keys} }}\n"

    return fill(HEADER + "steps:\n", step)


def duplicate_keys():
    # One map of the same key again and again: refused, with the problems summarised.
    return fill(HEADER + "steps:\n  - id: a\n    set:\n", lambda i: f"      x: {i}\n")


def unknown_keys():
    # Misspelt keys everywhere: each gets a "did you mean".
    return fill(HEADER + "steps:\n", lambda i: f"  - id: s{i}\n    sett: {{ x: 1 }}\n    requets: {{ method: GET, url: /x }}\n")


def alias_flood():
    # Billion laughs: each level doubles the last ten times. Refused at the expansion limit.
    lines = [HEADER, "x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
    for level in range(1, 30):
        previous = f"*a{level - 1}"
        lines.append(f"x{level}: &a{level} [{', '.join([previous] * 10)}]\n")
    lines.append("steps:\n  - id: a\n    set: { x: 1 }\n")
    return "".join(lines)


def aliases_within_the_limit():
    # Many aliases of one small anchor, each expanded: just under the expansion limit.
    head = HEADER + "vars_source: &v { a: 1, b: 2 }\nsteps:\n"
    return fill(head, lambda i: f"  - id: s{i}\n    set: {{ x: 1 }}\n" + ("    description: *v\n" if i % 7 == 0 else ""))


def long_string():
    # One template of almost 1 MB of text around a few expressions.
    body = "text " * 199_000
    return HEADER + f"steps:\n  - id: a\n    set:\n      x: \"{body}{{{{ 1 + 1 }}}}\"\n"


def long_template():
    # One template with tens of thousands of expressions.
    return fill(HEADER + "steps:\n  - id: a\n    set: { n: 1 }\n  - id: b\n    set:\n      x: \"", lambda i: "{{ vars.n }}-", "\"\n")


def deep_flow_nesting():
    depth = 100_000
    return HEADER + "steps:\n  - id: a\n    set:\n      x: " + "[" * depth + "]" * depth + "\n"


def deep_block_nesting():
    def level(i):
        return "  " * (i + 3) + f"k{i}:\n"

    return fill(HEADER + "steps:\n  - id: a\n    set:\n", level, "")


def many_steps():
    # Each step reads the one before it: names in scope grow with every step.
    def step(i):
        read = f"{{{{ vars.v{i - 1} }}}}" if i else "0"
        return f"  - id: s{i}\n    set: {{ v{i}: \"{read}\" }}\n"

    return fill(HEADER + "steps:\n", step)


def many_requests():
    # Requests with headers, query and a JSON body, each templated from inputs and earlier steps.
    def step(i):
        earlier = f"steps.r{i - 1}.body.id" if i else "inputs.vin"
        return (
            f"  - id: r{i}\n    request:\n      method: POST\n      url: /things/{{{{ inputs.vin }}}}/{i}\n"
            f"      query: {{ a: \"{{{{ {earlier} }}}}\", b: x }}\n"
            f"      json: {{ vin: \"{{{{ inputs.vin | upper }}}}\", n: {i}, prior: \"{{{{ {earlier} | default('') }}}}\" }}\n"
            f"    bind: {{ id{i}: \"$.id\" }}\n"
        )

    head = HEADER + "inputs:\n  vin: { type: string }\nhttp:\n  base_url: http://api.example.test\nsteps:\n"
    return fill(head, step)


def many_unknown_names():
    # Every template reads a name that does not exist: each is a problem with a "did you mean".
    n = 2000
    head = HEADER + "inputs:\n" + "".join(f"  input_{i}: {{ type: string, default: x }}\n" for i in range(n)) + "steps:\n"
    return fill(head, lambda i: f"  - id: s{i}\n    set: {{ x: \"{{{{ inputs.inptu_{i} }}}}\" }}\n")


def many_jsonpaths():
    def step(i):
        paths = ", ".join(f"b{j}: \"$.items[?@.n == {j}].children[*].name\"" for j in range(20))
        return f"  - id: r{i}\n    request: {{ method: GET, url: /x }}\n    bind: {{ {paths} }}\n"

    return fill(HEADER + "http:\n  base_url: http://api.example.test\nsteps:\n", step)


def syntax_error_at_the_end():
    # A large valid recipe with one YAML error on its last line.
    text = fill(HEADER + "steps:\n", lambda i: f"  - id: s{i}\n    set: {{ x: {i} }}\n", limit=LIMIT - 100)
    return text + "  - id: broken\n    set: { x: [1, 2\n"


GENERATORS = [
    many_inputs,
    many_keys_in_many_maps,
    duplicate_keys,
    unknown_keys,
    alias_flood,
    aliases_within_the_limit,
    long_string,
    long_template,
    deep_flow_nesting,
    deep_block_nesting,
    many_steps,
    many_requests,
    many_unknown_names,
    many_jsonpaths,
    syntax_error_at_the_end,
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default="target/release/recipe")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="write the inputs to this folder and keep them")
    parser.add_argument("--only", help="run only the generators whose name contains this")
    args = parser.parse_args()

    folder = args.keep or tempfile.mkdtemp(prefix="recipe-check-limits-")
    os.makedirs(folder, exist_ok=True)
    slow = []
    print(f"{'input':<26} {'bytes':>9} {'exit':>4} {'median':>8} {'worst':>8} {'lines':>6}")
    for generate in GENERATORS:
        name = generate.__name__
        if args.only and args.only not in name:
            continue
        text = generate()
        assert len(text.encode()) < LIMIT, f"{name}: {len(text.encode())} bytes"
        path = os.path.join(folder, f"{name}.yaml")
        with open(path, "w") as f:
            f.write(text)
        times, code, lines = [], None, 0
        for _ in range(args.runs):
            started = time.perf_counter()
            done = subprocess.run([args.bin, "check", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
            times.append(time.perf_counter() - started)
            code, lines = done.returncode, (done.stdout + done.stderr).count(b"\n")
        median, worst = statistics.median(times), max(times)
        print(f"{name:<26} {len(text.encode()):>9} {code:>4} {median:>7.3f}s {worst:>7.3f}s {lines:>6}", flush=True)
        if worst >= 1.0:
            slow.append(name)
        if code < 0:
            slow.append(f"{name} (killed by signal {-code})")
    if not args.keep:
        for entry in os.listdir(folder):
            os.remove(os.path.join(folder, entry))
        os.rmdir(folder)
    if slow:
        print("a second or more:", ", ".join(slow))
        sys.exit(1)


if __name__ == "__main__":
    main()
