"""Soak test: steady load on a local `modeldistill serve` for minutes, sampling throughput, p99
latency and the server's resident memory every 10 s, to show that nothing leaks or degrades.

    # start the server itself (on a free loopback port), soak it for 5 minutes, stop it with SIGTERM
    python scripts/soak.py --model models/default --duration 300 --out runs/soak.json
    # or soak a server that is already running (its pid is needed to read its memory)
    python scripts/soak.py --url http://127.0.0.1:8000 --pid 12345 --duration 300

`--connections` (4) keep-alive connections each send their next request as soon as the last one
answered. Texts vary in length (1 to 200 words) so the model sees many input shapes, which is
where allocator caches grow. Memory is VmRSS from /proc/<pid>/status (Linux). Loopback only and
bounded (at most 1 hour): this measures our server, it is not a load generator for other hosts.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadbench import SENTENCES, check_loopback, percentile  # noqa: E402 - the sibling script, not a package

MAX_DURATION_S = 3600
WORDS = " ".join(SENTENCES).split()


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


def rss_kib(pid: int) -> int | None:
    """Resident memory of a process, from the kernel's own accounting; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None  # a zombie has no memory left to report


def make_text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 200)))


async def soak(url: str, route: str, pid: int, connections: int, duration: float, every: float):
    """Run the load; every `every` seconds close a window: its req/s, p50/p99, errors, RSS."""
    samples: list[dict] = []
    window: list[float] = []
    errors: dict[str, int] = {}
    window_errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:
        began = time.perf_counter()
        deadline = began + duration

        async def connection(seed: int) -> None:
            nonlocal window_errors
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                seconds, failure = await timed_request(client, route, make_text(rng))
                if failure is None:
                    window.append(seconds)
                else:
                    errors[failure] = errors.get(failure, 0) + 1
                    window_errors += 1

        async def sampler() -> None:
            nonlocal window, window_errors
            last = began
            samples.append(sample(0.0, [], 0, 0.0, pid))  # memory before any load
            while True:
                await asyncio.sleep(max(0.0, last + every - time.perf_counter()))
                now = time.perf_counter()
                done, window, failed, window_errors = window, [], window_errors, 0
                samples.append(sample(now - began, done, failed, now - last, pid))
                print_row(samples[-1])
                last = now
                if now >= deadline:
                    return

        print_header()
        await asyncio.gather(sampler(), *(connection(seed) for seed in range(connections)))
    return samples, errors


def sample(t: float, latencies: list[float], failed: int, span: float, pid: int) -> dict:
    ordered = sorted(latencies)
    rss = rss_kib(pid)
    return {
        "t_s": round(t, 1),
        "requests": len(ordered),
        "errors": failed,
        "req_per_s": round(len(ordered) / span, 1) if span else 0.0,
        "p50_ms": round(percentile(ordered, 0.50), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
        "rss_mib": None if rss is None else round(rss / 1024, 1),
    }


def print_header() -> None:
    print(
        f"{'t s':>6} {'requests':>9} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'RSS MiB':>8}",
        flush=True,
    )


def print_row(s: dict) -> None:
    print(
        f"{s['t_s']:>6.0f} {s['requests']:>9} {s['errors']:>6} {s['req_per_s']:>8.1f} "
        f"{s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} {s['rss_mib'] or float('nan'):>8.1f}",
        flush=True,
    )


def summarise(samples: list[dict], errors: dict[str, int]) -> dict:
    loaded = [s for s in samples if s["requests"] or s["errors"]]
    # The first loaded window includes warm-up growth (allocator arenas, caches); the trend is
    # judged on the rest, as a least-squares slope of RSS against time.
    steady = [s for s in (loaded[1:] if len(loaded) > 2 else loaded) if s["rss_mib"] is not None]
    memory = [s["rss_mib"] for s in samples if s["rss_mib"] is not None]
    slope = (
        statistics.linear_regression(
            [s["t_s"] for s in steady], [s["rss_mib"] for s in steady]
        ).slope
        if len(steady) >= 2
        else float("nan")
    )
    total = sum(s["requests"] for s in loaded)
    seconds = loaded[-1]["t_s"] if loaded else 0.0
    return {
        "requests": total,
        "errors": errors,
        "error_count": sum(errors.values()),
        "req_per_s": round(total / seconds, 1) if seconds else 0.0,
        "worst_window_p99_ms": max((s["p99_ms"] for s in loaded), default=float("nan")),
        "rss_before_mib": samples[0]["rss_mib"],
        "rss_first_window_mib": loaded[0]["rss_mib"] if loaded else None,
        "rss_last_mib": samples[-1]["rss_mib"],
        "rss_max_mib": max(memory, default=None),
        "server_gone": any(s["rss_mib"] is None for s in samples),
        "rss_slope_mib_per_hour": round(slope * 3600, 2),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(model: str, extra: list[str]) -> tuple[subprocess.Popen, str, list[str]]:
    port = free_port()
    command = [sys.executable, "-m", "modeldistill", "serve", "--model", model]
    command += ["--host", "127.0.0.1", "--port", str(port), *extra]
    server = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"soak: the server exited with code {server.returncode} before it was ready")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return server, url, command
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    sys.exit("soak: the server was not ready within 120 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--model", help="start `modeldistill serve --model MODEL` and soak it")
    where.add_argument("--url", help="soak this running server (loopback); needs --pid")
    parser.add_argument("--pid", type=int, help="pid of the server at --url, for its memory")
    parser.add_argument(
        "--serve-args", default="", help="extra `modeldistill serve` flags, e.g. '--no-batching'"
    )
    parser.add_argument(
        "--route",
        choices=["api", "legacy"],
        default="api",
        help="api: POST /api/v1/predict; legacy: GET /predict?search=",
    )
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections")
    parser.add_argument(
        "--duration", type=float, default=300.0, help=f"seconds of load (max {MAX_DURATION_S})"
    )
    parser.add_argument("--every", type=float, default=10.0, help="seconds per sample window")
    parser.add_argument("--out", type=Path, default=None, help="write samples and summary as JSON")
    args = parser.parse_args()
    if not 0 < args.duration <= MAX_DURATION_S:
        parser.error(f"--duration must be in (0, {MAX_DURATION_S}]")
    if not 1 <= args.connections <= 64:
        parser.error("--connections must be in 1..64")
    if not 1 <= args.every <= args.duration:
        parser.error("--every must be at least 1 and at most --duration")
    if args.url and args.pid is None:
        parser.error("--url needs --pid (the server's process id, to read its memory)")

    server = None
    if args.model:
        server, url, command = start_server(args.model, args.serve_args.split())
        pid = server.pid
    else:
        url, pid, command = args.url.rstrip("/"), args.pid, None
        if not Path(f"/proc/{pid}/status").is_file():
            parser.error(f"no process {pid}")
    check_loopback(url)
    try:
        model = httpx.get(url + "/api/v1/model", timeout=10).json()
        print(
            f"soak: {model['name']} ({model['backend']}) at {url}, pid {pid}, "
            f"{args.connections} connections, {args.duration:g} s",
            flush=True,
        )
        samples, errors = asyncio.run(
            soak(url, args.route, pid, args.connections, args.duration, args.every)
        )
    finally:
        exit_code = None
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                exit_code = server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                exit_code = "killed after 60 s"
    summary = summarise(samples, errors)
    summary["server_exit_code_after_sigterm"] = exit_code
    print(json.dumps(summary))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "url": url,
            "model": model,
            "server_command": command,
            "soak_command": [sys.executable, *sys.argv],
            "connections": args.connections,
            "route": args.route,
            "duration_s": args.duration,
            "every_s": args.every,
            "cpus": os.cpu_count(),
            "samples": samples,
            "summary": summary,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    failed = summary["error_count"] or summary["server_gone"] or exit_code not in (None, 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
