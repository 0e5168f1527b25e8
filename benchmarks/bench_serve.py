"""Load test of ``introscope serve``: concurrent clients, mixed plain and injected requests,
for a fixed time, on loopback only.

Run:  INTROSCOPE_CACHE=/tmp/iscache python benchmarks/bench_serve.py --seconds 30 --clients 8

The server runs in this process (uvicorn in a thread on a free 127.0.0.1 port) with the
bundled model, unless ``--url`` names one already running on a loopback address (say
``introscope serve --model ... --device cuda``). Each client thread loops until the time
is up, sending a request drawn from a fixed list: a few chat prompts, greedy, plain or with
one of two concept injections (``--inject-share`` of them injected). The concepts are built
before the clock starts.

Afterwards every distinct request that was answered is sent again alone, one at a time,
and every answer it got under load must equal that one. Plain rows must match exactly (the
engine keeps un-injected rows independent of their batchmates); injected rows are reported
too. Exit status 1 on any error or plain mismatch.

Prints: requests, errors by status, throughput (requests/s, generated tokens/s), latency
p50/p99 (seconds, from send to full answer), mismatches.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

os.environ.setdefault("INTROSCOPE_CACHE", "/tmp/iscache")
os.environ.setdefault("TQDM_DISABLE", "1")

import httpx

PROMPTS = [
    "Write one sentence about the sea.",
    "Name three colours.",
    "What is the capital of France?",
    "Describe a quiet morning.",
]
CONCEPTS = ["Dust", "Ocean"]
MAX_SECONDS = 600
MAX_CLIENTS = 64


@dataclass(frozen=True)
class Outcome:
    request: int  # index into the request list
    status: int
    text: str
    tokens: int
    latency: float


def request_list(max_tokens: int) -> list[dict[str, Any]]:
    """Plain requests first, then one injected request per prompt and concept."""
    plain = [
        {"messages": [{"role": "user", "content": p}], "max_tokens": max_tokens} for p in PROMPTS
    ]
    injected = [
        {**body, "introscope": {"concept": c, "layer": 0.5, "strength": 4}}
        for body in plain
        for c in CONCEPTS
    ]
    return plain + injected


def is_plain(body: dict[str, Any]) -> bool:
    return "introscope" not in body


def send(c: httpx.Client, index: int, body: dict[str, Any]) -> Outcome:
    began = time.perf_counter()
    r = c.post("/v1/chat/completions", json=body)
    latency = time.perf_counter() - began
    if r.status_code != 200:
        return Outcome(index, r.status_code, r.text[:200], 0, latency)
    out = r.json()
    text = out["choices"][0]["message"]["content"]
    return Outcome(index, 200, text, out["usage"]["completion_tokens"], latency)


def client_loop(
    url: str,
    requests: list[dict[str, Any]],
    inject_share: float,
    deadline: float,
    seed: int,
    record: Callable[[Outcome], None],
) -> None:
    rng = random.Random(seed)
    plain = [i for i, b in enumerate(requests) if is_plain(b)]
    injected = [i for i, b in enumerate(requests) if not is_plain(b)]
    with httpx.Client(base_url=url, timeout=300) as c:
        while time.monotonic() < deadline:
            pool = injected if rng.random() < inject_share else plain
            i = rng.choice(pool)
            record(send(c, i, requests[i]))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def local_server(model: str, max_batch: int) -> Iterator[str]:
    """The bundled (or named) model served in this process on a free loopback port."""
    import torch
    import uvicorn

    from introscope.core.models import load_model
    from introscope.serve import ServeLimits, create_app

    torch.set_num_threads(max(1, int(os.environ.get("INTROSCOPE_BENCH_THREADS", "2"))))
    app = create_app(load_model(model), limits=ServeLimits(max_batch=max_batch))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"--url must point at a loopback address, not {host!r}")


def run(url: str, args: argparse.Namespace) -> int:
    requests = request_list(args.max_tokens)
    with httpx.Client(base_url=url, timeout=600) as c:
        for concept in CONCEPTS:  # build the concept vectors before the clock starts
            warm = send(c, 0, {**requests[0], "introscope": {"concept": concept, "layer": 0.5,
                                                              "strength": 4}})  # fmt: skip
            if warm.status != 200:
                print(f"warm-up failed: {warm.status} {warm.text}")
                return 1
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def record(o: Outcome) -> None:
        with lock:
            outcomes.append(o)

    began = time.monotonic()
    deadline = began + args.seconds
    threads = [
        threading.Thread(
            target=client_loop,
            args=(url, requests, args.inject_share, deadline, args.seed + k, record),
        )
        for k in range(args.clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began

    ok = [o for o in outcomes if o.status == 200]
    errors = Counter(o.status for o in outcomes if o.status != 200)
    latencies = [o.latency for o in ok]
    print(f"clients {args.clients}, {elapsed:.1f} s, max_tokens {args.max_tokens}")
    print(f"requests {len(outcomes)} ok {len(ok)} errors {dict(errors) or 0}")
    if ok:
        tokens = sum(o.tokens for o in ok)
        print(f"throughput {len(ok) / elapsed:.2f} req/s, {tokens / elapsed:.1f} tokens/s")
        print(
            f"latency p50 {percentile(latencies, 0.5):.3f} s, p99 {percentile(latencies, 0.99):.3f} s"
        )

    # Every distinct answered request, once more, alone on an idle server.
    mismatches = {"plain": 0, "injected": 0}
    checked = 0
    with httpx.Client(base_url=url, timeout=600) as c:
        for index in sorted({o.request for o in ok}):
            alone = send(c, index, requests[index])
            kind = "plain" if is_plain(requests[index]) else "injected"
            for o in ok:
                if o.request == index:
                    checked += 1
                    if alone.status != 200 or o.text != alone.text:
                        mismatches[kind] += 1
    print(f"checked {checked} answers against the same request alone: mismatches {mismatches}")
    return 1 if errors or mismatches["plain"] else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--inject-share", type=float, default=0.5)
    ap.add_argument("--max-batch", type=int, default=8, help="(in-process server only)")
    ap.add_argument("--model", default="bundled", help="(in-process server only)")
    ap.add_argument("--url", default=None, help="a running server on loopback")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not 0 < args.seconds <= MAX_SECONDS:
        raise SystemExit(f"--seconds must be in (0, {MAX_SECONDS}]")
    if not 0 < args.clients <= MAX_CLIENTS:
        raise SystemExit(f"--clients must be in [1, {MAX_CLIENTS}]")
    if not 0 <= args.inject_share <= 1:
        raise SystemExit("--inject-share must be in [0, 1]")
    if args.url is not None:
        check_loopback(args.url)
        sys.exit(run(args.url.rstrip("/"), args))
    with local_server(args.model, args.max_batch) as url:
        code = run(url, args)
    sys.exit(code)


if __name__ == "__main__":
    main()
