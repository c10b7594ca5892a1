"""Hostile-client measurements against a local `modeldistill serve`: huge and numerous headers and
slow connections, with /healthz latency measured while each attack runs and the server's memory
before and after. The figures docs/reliability.md reports for these attacks come from here.

    modeldistill serve --model models/default --port 8000 &
    python scripts/attack.py --url http://127.0.0.1:8000 --pid $! --out runs/attack.json

Attacks, one after the other, each repeated on new connections for 5 s: one 100 MB header; four
60 MB headers at once; 50,000 headers;
200 slow connections (a third send half their headers, a third a tenth of a declared body, a
third nothing), held until the server closes them or `--hold` seconds pass. Loopback only and
bounded: this measures our server, it is not a load generator for other hosts.
"""

import argparse
import contextlib
import json
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadbench import check_loopback, percentile  # noqa: E402 - the sibling script, not a package
from soak import rss_kib  # noqa: E402

MB = 2**20
ATTACK_SECONDS = 5.0  # each header attack is repeated, on new connections, for this long


def probe(address, stop: threading.Event) -> list[float]:
    """/healthz on one keep-alive connection, one request after another, until `stop`."""
    request = b"GET /healthz HTTP/1.1\r\nHost: probe\r\n\r\n"
    seconds = []
    conn = socket.create_connection(address, timeout=30)
    try:
        while not stop.is_set():
            start = time.perf_counter()
            conn.sendall(request)
            data = b""
            while not data.endswith(b'{"status":"ok"}'):
                chunk = conn.recv(4096)
                if not chunk:  # closed (idle timeout): reconnect, and count the time
                    conn.close()
                    conn = socket.create_connection(address, timeout=30)
                    conn.sendall(request)
                    data = b""
                    continue
                data += chunk
            seconds.append(time.perf_counter() - start)
            time.sleep(0.005)
    finally:
        conn.close()
    return seconds


def send_header(address, size: int, results: list) -> None:
    """One request whose single header is `size` bytes, sent 64 KiB at a time until the server
    answers or closes: (status line or error, MB sent, seconds)."""
    start = time.perf_counter()
    sent = 0
    outcome = "sent whole"
    with socket.create_connection(address, timeout=60) as conn:
        try:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            chunk = b"a" * 65536
            while sent < size:
                conn.sendall(chunk)
                sent += len(chunk)
            conn.sendall(b"\r\n\r\n")
        except OSError as error:
            outcome = type(error).__name__
        with contextlib.suppress(OSError):
            line = conn.recv(200).split(b"\r\n", 1)[0].decode("latin-1")
            outcome = line or outcome
    results.append((outcome, round(sent / MB, 1), round(time.perf_counter() - start, 2)))


def summarize(results: list) -> dict:
    """The attempts of a repeated attack: how many, their outcomes, the most sent and the
    longest."""
    outcomes: dict[str, int] = {}
    for outcome, *_ in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {
        "attempts": len(results),
        "outcomes": outcomes,
        "most_sent": max(sent for _, sent, _ in results),
        "longest_s": max(took for *_, took in results),
    }


def many_headers(address, count: int, results: list) -> None:
    start = time.perf_counter()
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-%d: 1\r\n" % i for i in range(count)
    )
    with socket.create_connection(address, timeout=60) as conn:
        outcome = "no answer"
        with contextlib.suppress(OSError):
            conn.sendall(head + b"\r\n")
        with contextlib.suppress(OSError):
            outcome = conn.recv(200).split(b"\r\n", 1)[0].decode("latin-1") or "closed"
    results.append((outcome, count, round(time.perf_counter() - start, 2)))


def slow_connections(address, count: int, hold: float, results: list) -> None:
    """`count` connections that never finish their request; (closed by the server, seconds)."""
    starts = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        # Declared JSON, or it would be answered 415 at once instead of waiting for its body.
        b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{",
        b"",
    ]
    conns = []
    for index in range(count):
        conn = socket.create_connection(address, timeout=hold)
        conn.sendall(starts[index % 3])
        conns.append(conn)
    opened = time.perf_counter()
    deadline = opened + hold
    closed_after: list[float] = []
    for conn in conns:
        conn.settimeout(max(0.01, deadline - time.perf_counter()))
        with contextlib.suppress(OSError):
            while conn.recv(4096):
                pass
            closed_after.append(time.perf_counter() - opened)
        conn.close()
    last = round(max(closed_after, default=float("nan")), 2)
    results.append(
        {"connections": count, "closed_by_server": len(closed_after), "last_after_s": last}
    )


def under_attack(address, attack) -> dict:
    """Run `attack(results)` while probing /healthz: its outcome and the probe's latency."""
    stop = threading.Event()
    latencies: list[float] = []
    prober = threading.Thread(target=lambda: latencies.extend(probe(address, stop)))
    prober.start()
    time.sleep(0.3)
    results: list = []
    attack(results)
    stop.set()
    prober.join()
    ordered = sorted(latencies)
    return {
        "outcome": results[0],
        "healthz_requests": len(ordered),
        "healthz_p50_ms": round(percentile(ordered, 0.5), 2),
        "healthz_p99_ms": round(percentile(ordered, 0.99), 2),
        "healthz_max_ms": round(1000 * ordered[-1], 2) if ordered else None,
    }


def again(seconds: float, target, *args) -> None:
    """`target(*args)` over and over for `seconds`: an attack that is cut off at once would
    otherwise leave next to no time to measure /healthz during it."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        target(*args)


def in_threads(address, results: list, count: int, target, *args) -> None:
    threads = [
        threading.Thread(target=again, args=(ATTACK_SECONDS, target, address, *args, results))
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results[:] = [summarize(results)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL (loopback)")
    parser.add_argument("--pid", type=int, required=True, help="the server's pid (for its RSS)")
    parser.add_argument("--hold", type=float, default=30.0, help="most seconds to hold slow ones")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    if not 0 < args.hold <= 120:
        parser.error("--hold must be in (0, 120]")
    check_loopback(args.url)
    parts = urlsplit(args.url)
    address = (parts.hostname, parts.port or 80)

    report = {"rss_idle_mb": round(rss_kib(args.pid) / 1024, 1)}
    attacks = {
        "one 100 MB header": lambda r: in_threads(address, r, 1, send_header, 100 * MB),
        "four 60 MB headers at once": lambda r: in_threads(address, r, 4, send_header, 60 * MB),
        "50,000 headers": lambda r: in_threads(address, r, 1, many_headers, 50_000),
        "200 slow connections": lambda r: slow_connections(address, 200, args.hold, r),
    }
    for name, attack in attacks.items():
        report[name] = under_attack(address, attack)
        report[name]["rss_mb"] = round(rss_kib(args.pid) / 1024, 1)
        print(f"{name}: {json.dumps(report[name])}")
    time.sleep(2)
    report["rss_after_mb"] = round(rss_kib(args.pid) / 1024, 1)
    print(f"RSS idle {report['rss_idle_mb']} MB, after all attacks {report['rss_after_mb']} MB")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
