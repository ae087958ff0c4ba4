#!/usr/bin/env python3
"""Where the relay's CPU goes, as a short table (docs/benchmarks.md, "Profile").

Reads `perf script` output (on stdin) of samples of the relay process and puts each
sample in one category, by the thread it ran on and its innermost frames. Prints a
markdown table: category, share of the relay's samples.

    perf script -i perf.data | python3 scripts/perf-categories.py
"""

import re
import sys
from collections import Counter

# (category, pattern over the innermost frames), first match wins. Kernel frames
# are classified by the system call they serve.
USER = [
    ("allocation (malloc/free)", r"^(malloc|free|cfree|realloc|calloc|_int_|unlink_chunk|malloc_consolidate|tcache|mi_|_mi_|__rust_alloc|__rust_dealloc|__rust_realloc)"),
    ("memory copies", r"^__mem(cpy|move|set|cmp)|^memcpy|^memmove"),
    ("JSON parse and serialise (serde_json)", r"serde_json|serde_core|serde::"),
    ("HTTP/1 parse and encode (hyper, httparse, http)", r"httparse|hyper::proto|http::header|hyper::headers|http::"),
    ("upstream client (reqwest, hyper-util pool, tower)", r"reqwest|hyper_util::client|tower::|hyper::client"),
    ("SSE reading and relaying", r"airelays::upstream::(sse|events)|airelays::server::relay::stream|airelays::translate::stream|airelays::translate::responses"),
    ("guard (token, limits, headers)", r"airelays::server::(guard|limits)|airelays::token"),
    ("plan usage headers", r"airelays::server::usage|airelays::upstream::usage"),
    ("request preparation (dialects, accounts, routes)", r"airelays::"),
    ("async runtime (tokio)", r"tokio::|mio::|futures_"),
    ("bytes and buffers", r"^bytes::"),
    ("logging (tracing)", r"tracing"),
]
KERNEL = [
    ("kernel: socket writes", r"writev|sendmsg|sendto|__x64_sys_write|tcp_sendmsg"),
    ("kernel: socket reads", r"recvfrom|recvmsg|__x64_sys_read|tcp_recvmsg"),
    ("kernel: wake-ups, scheduling, epoll", r"futex|schedule|epoll|sched_yield|nanosleep|switch"),
]


def classify(comm, frames):
    if comm.startswith("airelays-log"):
        return "logging (the log writer thread)"
    if comm.startswith("airelays-state"):
        return "state writer thread (SQLite)"
    names = [f[1] for f in frames]
    if frames and frames[0][0] == "k":
        stack = " ".join(names)
        for cat, pat in KERNEL:
            if re.search(pat, stack):
                return cat
        return "kernel: other"
    for name in names[:3]:
        for cat, pat in USER:
            if re.search(pat, name):
                return cat
    return "other"


def samples(text):
    for block in text.split("\n\n"):
        lines = [l for l in block.split("\n") if l.strip()]
        if not lines:
            continue
        comm = lines[0].split()[0]
        frames = []
        for l in lines[1:]:
            m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", l)
            if not m:
                continue
            sym, dso = m.group(1), m.group(2)
            frames.append(("k" if "kernel" in dso else "u", re.sub(r"\+0x[0-9a-f]+$", "", sym)))
        yield comm, frames


def main():
    counts = Counter(classify(c, f) for c, f in samples(sys.stdin.read()))
    total = sum(counts.values()) or 1
    print("| where | share of the relay's CPU |")
    print("|---|---|")
    for cat, n in counts.most_common():
        print(f"| {cat} | {100 * n / total:.1f}% |")
    print(f"\n{total} samples.")


if __name__ == "__main__":
    main()
