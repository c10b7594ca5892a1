"""Load benchmark for a running `modeldistill serve`: req/s and p50/p99 latency per concurrency.

    modeldistill serve --model models/default --port 8000 &
    python scripts/loadbench.py --url http://127.0.0.1:8000 --concurrency 1,4 --duration 10 \
        --out runs/loadbench.json

Each level runs `--concurrency` keep-alive connections, each sending its next request as soon as
the last one answered (a 503's Retry-After is ignored, as wrk does), until `--duration` seconds or
`--requests` requests, whichever comes first. `--route api --texts 64` is the overload run of
docs/reliability.md; 200s and 503s are timed apart.
Only loopback addresses are accepted: this measures our server, it is not a load generator for
other people's hosts.
"""

import argparse
import asyncio
import ipaddress
import json
import re
import socket
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

SENTENCES = [
    "you are all welcome here",
    "kick them all out of the country",
    "see you at the meeting tomorrow",
    "those people are vermin",
    "I like this forum a lot, thanks for the help",
    "what a lovely day for a walk in the park",
]
MAX_DURATION_S = 120
MAX_REQUESTS = 200_000


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as error:
        sys.exit(f"loadbench: cannot resolve {host!r}: {error.strerror}")
    if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        sys.exit(f"loadbench: {host} is not a loopback address; only local servers are measured")


def build_request(host: str, route: str, texts: list[str]) -> bytes:
    """One keep-alive HTTP/1.1 request, sent as prepared bytes: the client should cost little
    next to the server it measures (httpx costs more per request than the server does)."""
    if route == "legacy":
        target, body = "/predict?search=" + quote(texts[0]), b""
        head = f"GET {target} HTTP/1.1\r\nHost: {host}\r\n"
    else:
        body = json.dumps({"texts": texts}).encode()
        head = (
            f"POST /api/v1/predict HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        )
    return head.encode() + b"\r\n" + body


async def exchange(reader, writer, request: bytes) -> tuple[int, bool, bool]:
    """(status, has Retry-After, server closes) for one request on an open connection."""
    writer.write(request)
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    length = re.search(rb"\r\ncontent-length: *(\d+)", head)
    await reader.readexactly(int(length.group(1)) if length else 0)
    return int(head[9:12]), b"\r\nretry-after:" in head, b"\r\nconnection: close" in head


def percentile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted seconds, in milliseconds (nan when empty)."""
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def summary(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
        "max_ms": round(1000 * ordered[-1], 2) if ordered else float("nan"),
    }


async def run_level(
    url: str, route: str, connections: int, duration: float, limit: int, texts: int, timeout: float
) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    requests = [
        build_request(
            parts.netloc, route, [SENTENCES[(i + j) % len(SENTENCES)] for j in range(texts)]
        )
        for i in range(len(SENTENCES))
    ]
    by_status: dict[int, list[float]] = {}
    errors: dict[str, int] = {}
    busy_without_retry_after = 0
    sent = 0
    deadline = time.perf_counter() + duration

    async def connection(number: int) -> None:
        nonlocal sent, busy_without_retry_after
        streams = None
        while sent < limit and time.perf_counter() < deadline:
            sent += 1
            start = time.perf_counter()
            try:
                if streams is None:
                    streams = await asyncio.open_connection(host, port)
                status, retry_after, closes = await asyncio.wait_for(
                    exchange(*streams, requests[(number + sent) % len(requests)]), timeout
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                kind = "timeout" if isinstance(error, TimeoutError) else type(error).__name__
                errors[kind] = errors.get(kind, 0) + 1
                status, closes = None, True
            else:
                by_status.setdefault(status, []).append(time.perf_counter() - start)
                busy_without_retry_after += status == 503 and not retry_after
                if status != 200:
                    errors[str(status)] = errors.get(str(status), 0) + 1
            if closes and streams is not None:
                streams[1].close()
                streams = None
        if streams is not None:
            streams[1].close()

    began = time.perf_counter()
    await asyncio.gather(*(connection(n) for n in range(connections)))
    elapsed = time.perf_counter() - began
    ok = summary(by_status.get(200, []))
    return {
        "connections": connections,
        "texts_per_request": texts,
        "requests": ok["count"],
        "errors": errors,
        "seconds": round(elapsed, 3),
        "req_per_s": round(ok["count"] / elapsed, 1),
        "p50_ms": ok["p50_ms"],
        "p99_ms": ok["p99_ms"],
        "max_ms": ok["max_ms"],
        "busy_503": summary(by_status.get(503, [])),
        "busy_503_without_retry_after": busy_without_retry_after,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (loopback)")
    parser.add_argument(
        "--route",
        choices=["legacy", "api"],
        default="legacy",
        help="legacy: GET /predict?search= (the original's route); api: POST /api/v1/predict",
    )
    parser.add_argument("--concurrency", default="1,4", help="comma-separated connection counts")
    parser.add_argument("--texts", type=int, default=1, help="texts per request (api route; 1..64)")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds before a request counts as timeout"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help=f"seconds per level (max {MAX_DURATION_S})"
    )
    parser.add_argument(
        "--requests", type=int, default=20_000, help=f"most requests per level (max {MAX_REQUESTS})"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if not 0 < args.duration <= MAX_DURATION_S or not 0 < args.requests <= MAX_REQUESTS:
        parser.error(
            f"--duration must be in (0, {MAX_DURATION_S}] and --requests in (0, {MAX_REQUESTS}]"
        )
    try:
        levels = [int(part) for part in args.concurrency.split(",") if part.strip()]
    except ValueError:
        parser.error("--concurrency must be comma-separated integers")
    if not levels or not all(1 <= level <= 512 for level in levels):
        parser.error("--concurrency levels must be in 1..512")
    if not 1 <= args.texts <= 64 or (args.texts > 1 and args.route != "api"):
        parser.error("--texts must be in 1..64, and more than 1 only with --route api")
    check_loopback(args.url)
    try:
        model = httpx.get(args.url + "/api/v1/model", timeout=10).json()
    except httpx.HTTPError as error:
        sys.exit(f"loadbench: no server at {args.url}: {error}")

    results = [
        asyncio.run(
            run_level(
                args.url, args.route, n, args.duration, args.requests, args.texts, args.timeout
            )
        )
        for n in levels
    ]
    name = f"{model['name']} ({model['backend']})"
    print(f"model {name}, route {args.route}, {args.texts} text(s) a request, {args.duration:g} s")
    print(
        f"{'conns':>5} {'ok':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
        f" {'503s':>7} {'503 p99':>8} {'503 max':>8}  other"
    )
    for r in results:
        busy = r["busy_503"]
        other = {k: v for k, v in r["errors"].items() if k != "503"}
        print(
            f"{r['connections']:>5} {r['requests']:>7} {r['req_per_s']:>8.1f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['max_ms']:>8.2f} {busy['count']:>7} "
            f"{busy['p99_ms']:>8.2f} {busy['max_ms']:>8.2f}  {other or ''}"
            + (
                f" 503s without Retry-After: {r['busy_503_without_retry_after']}"
                if r["busy_503_without_retry_after"]
                else ""
            )
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"url": args.url, "route": args.route, "model": model, "levels": results}
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
