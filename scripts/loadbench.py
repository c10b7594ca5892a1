"""Load benchmark for a running `modeldistill serve`: req/s and p50/p99 latency per concurrency.

    modeldistill serve --model models/default --port 8000 &
    python scripts/loadbench.py --url http://127.0.0.1:8000 --concurrency 1,4 --duration 10 \
        --out runs/loadbench.json

Each level runs `--concurrency` keep-alive connections, each sending its next request as soon as
the last one answered, until `--duration` seconds or `--requests` requests, whichever comes first.
Only loopback addresses are accepted: this measures our server, it is not a load generator for
other people's hosts.
"""

import argparse
import asyncio
import ipaddress
import json
import socket
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

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


def make_request(client: httpx.AsyncClient, route: str, text: str):
    if route == "legacy":
        return client.get("/predict", params={"search": text})
    return client.post("/api/v1/predict", json={"texts": [text]})


async def timed_request(
    client: httpx.AsyncClient, route: str, text: str
) -> tuple[float, str | None]:
    """(seconds taken, None) for a 200, else (seconds, the status code or error type)."""
    start = time.perf_counter()
    try:
        response = await make_request(client, route, text)
        failure = None if response.status_code == 200 else str(response.status_code)
    except httpx.HTTPError as error:
        failure = type(error).__name__
    return time.perf_counter() - start, failure


def percentile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted seconds, in milliseconds (nan when empty)."""
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run_level(url: str, route: str, connections: int, duration: float, limit: int) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=10.0) as client:
        for index in range(2 * connections):  # open the connections and warm the path
            await make_request(client, route, SENTENCES[index % len(SENTENCES)])
        deadline = time.perf_counter() + duration

        async def connection() -> None:
            nonlocal sent
            while sent < limit and time.perf_counter() < deadline:
                sent += 1
                seconds, failure = await timed_request(
                    client, route, SENTENCES[sent % len(SENTENCES)]
                )
                if failure is None:
                    latencies.append(seconds)
                else:
                    errors[failure] = errors.get(failure, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)

    return {
        "connections": connections,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "req_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(ordered, 0.50), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
        "mean_ms": round(1000 * statistics.fmean(ordered), 2) if ordered else float("nan"),
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
    if not levels or not all(1 <= level <= 256 for level in levels):
        parser.error("--concurrency levels must be in 1..256")
    check_loopback(args.url)
    try:
        model = httpx.get(args.url + "/api/v1/model", timeout=10).json()
    except httpx.HTTPError as error:
        sys.exit(f"loadbench: no server at {args.url}: {error}")

    results = [
        asyncio.run(run_level(args.url, args.route, n, args.duration, args.requests))
        for n in levels
    ]
    name = f"{model['name']} ({model['backend']})"
    print(f"model {name}, route {args.route}, {args.duration:g} s per level")
    print(f"{'conns':>5} {'requests':>9} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for r in results:
        errors = sum(r["errors"].values())
        print(
            f"{r['connections']:>5} {r['requests']:>9} {errors:>6} {r['req_per_s']:>8.1f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {"url": args.url, "route": args.route, "model": model, "levels": results}
        args.out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
