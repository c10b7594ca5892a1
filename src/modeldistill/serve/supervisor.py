"""`--workers N`: one parent that binds the socket and keeps N worker processes serving one model.

uvicorn's own supervisor re-imports the app in each new worker and restarts a dead one at once:
after the model folder was replaced, a restarted worker served the new model next to one serving
the old (two versions, two verdicts for one text), and with the folder gone it failed every few
seconds with a traceback while /readyz said 200 on half the capacity. Here instead:

- the parent resolves and loads the folder once, and takes its version (inference.json's
  `version`, else a hash of the weight files); each worker is told that version and serves only
  if the folder still holds it, checked before and after it loads: otherwise it exits, having
  accepted nothing, and the parent logs why in one line;
- a worker that stops is started again after 1 s, then 2, 4 ... up to 30 s while it keeps
  failing (one line each time, no traceback); one that served for a while starts again at 1 s;
- every worker is told how many of the N are serving (`capacity.serving_capacity()`), and /readyz answers
  503 `{"status": "degraded", ...}` while fewer than N are;
- SIGTERM, SIGINT or SIGHUP to the parent drains every worker (each finishes its in-flight
  requests within --shutdown-timeout) and the parent exits 0.

The workers are multiprocessing "spawn" processes that inherit the parent's listening socket; the
kernel hands each new connection to one of the workers accepting on it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import signal
import socket
import sys
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path

from modeldistill.errors import UserError
from modeldistill.inference.backends import BACKEND_FILES
from modeldistill.serve import capacity

FIRST_DELAY_S = 1.0  # before restarting a worker that stopped
MAX_DELAY_S = 30.0  # the back-off doubles up to this while a worker keeps failing
SERVED_LONG_ENOUGH_S = 30.0  # a worker that served this long resets its slot's back-off
EXIT_WRONG_MODEL = 3  # a worker's exit code when the folder no longer holds the expected version


def model_version(folder: Path) -> str:
    """The version a folder holds: inference.json's `version`, or `sha256:` and the first 12 hex
    digits of a hash over its weight files (names and contents) when it names none."""
    try:
        version = json.loads((folder / "inference.json").read_text()).get("version")
    except (OSError, ValueError, AttributeError):
        version = None
    if version:
        return str(version)
    digest = hashlib.sha256()
    for name in sorted(BACKEND_FILES.values()):
        path = folder / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            with path.open("rb") as weights:
                while block := weights.read(1 << 20):
                    digest.update(block)
    return "sha256:" + digest.hexdigest()[:12]


class WrongModel(UserError):
    """The folder no longer holds the version the parent checked."""


def _worker(slot: int, values: dict, expected: str, sock: socket.socket, flags, report) -> None:
    """One worker: check the folder holds `expected`, load it, serve on `sock` until stopped.
    Any failure is sent to the parent in one line and the process exits without serving."""
    try:
        code = _serve(slot, values, expected, sock, flags)
    except UserError as error:
        report.send(str(error))
        code = EXIT_WRONG_MODEL if isinstance(error, WrongModel) else 2
    except KeyboardInterrupt:
        code = 0  # Ctrl+C reaches the whole process group; the parent says what happened
    except Exception as error:  # one line, never a traceback
        report.send(f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        code = 1
    sys.exit(code)


def _serve(slot: int, values: dict, expected: str, sock: socket.socket, flags) -> int:
    import uvicorn

    from modeldistill.paths import resolve_model_dir
    from modeldistill.serve.app import create_app
    from modeldistill.serve.config import ServeConfig
    from modeldistill.serve.runner import server_class, uvicorn_settings
    from modeldistill.serve.service import load_classifier

    config = ServeConfig(**values)
    path = resolve_model_dir(config.model)

    def check(found: str) -> None:
        if found != expected:
            raise WrongModel(
                f"expected model version {expected}, found {found} in {path}; not serving "
                "(restart the server to serve the new model)"
            )

    check(model_version(path))
    classifier = load_classifier(config)
    check(model_version(path))  # the folder may have been replaced while it loaded
    if classifier.version != "unversioned":
        check(classifier.version)
    app = create_app(config, classifier)
    capacity.share(flags)

    class Worker(server_class(announce=False)):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started:  # the app answered its warm-up and the socket is served
                flags[slot] = 1

        async def shutdown(self, sockets=None):
            flags[slot] = 0
            await super().shutdown(sockets=sockets)

    server = Worker(uvicorn.Config(app, **uvicorn_settings(config)))
    try:
        server.run(sockets=[sock])
    finally:
        flags[slot] = 0
    if not server.started:
        raise UserError("the app failed to start (see the log above)")
    return 0


class _Slot:
    def __init__(self, number: int):
        self.number = number
        self.process: multiprocessing.process.BaseProcess | None = None
        self.report: Connection | None = None
        self.started_at = 0.0
        self.delay = FIRST_DELAY_S
        self.next_start = 0.0  # time.monotonic() at which to start it (again)


class Supervisor:
    """Runs `workers` copies of `_worker` on `sock` until a stop signal; see the module doc."""

    def __init__(self, values: dict, expected: str, sock: socket.socket, workers: int):
        self.values, self.expected, self.sock = values, expected, sock
        self.context = multiprocessing.get_context("spawn")
        self.flags = self.context.RawArray("b", workers)
        self.slots = [_Slot(number) for number in range(workers)]
        self.stop_signal: int | None = None
        self.shutdown_timeout = float(values.get("shutdown_timeout", 10.0))

    def _start(self, slot: _Slot) -> None:
        receive, send = self.context.Pipe(duplex=False)
        slot.process = self.context.Process(
            target=_worker,
            args=(slot.number, self.values, self.expected, self.sock, self.flags, send),
            name=f"modeldistill-worker-{slot.number + 1}",
        )
        slot.process.start()
        send.close()
        slot.report, slot.started_at = receive, time.monotonic()

    def _ended(self, slot: _Slot) -> None:
        """Log, in one line, why a worker stopped, and schedule its restart with back-off."""
        process = slot.process
        process.join()
        self.flags[slot.number] = 0
        why = None
        try:
            if slot.report.poll():
                why = slot.report.recv()
        except (EOFError, OSError):
            pass
        slot.report.close()
        slot.process = slot.report = None
        code = process.exitcode
        if why is None:
            try:
                why = f"killed by {signal.Signals(-code).name}" if code < 0 else None
            except ValueError:
                why = None
            why = why or f"exited with code {code}"
        now = time.monotonic()
        if now - slot.started_at >= SERVED_LONG_ENOUGH_S:
            slot.delay = FIRST_DELAY_S
        slot.next_start = now + slot.delay
        print(
            f"worker {slot.number + 1} (pid {process.pid}) stopped: {why}; "
            f"restarting in {slot.delay:g} s",
            file=sys.stderr,
            flush=True,
        )
        slot.delay = min(slot.delay * 2, MAX_DELAY_S)

    def _on_signal(self, signum, frame) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum

    def run(self) -> int:
        from modeldistill.serve.runner import STOP_SIGNALS

        original = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            for slot in self.slots:
                self._start(slot)
            while self.stop_signal is None:
                now = time.monotonic()
                for slot in self.slots:
                    if slot.process is None and now >= slot.next_start:
                        self._start(slot)
                running = {slot.process.sentinel: slot for slot in self.slots if slot.process}
                waits = [slot.next_start - now for slot in self.slots if slot.process is None]
                timeout = max(0.0, min([0.5, *waits]))
                for sentinel in wait(list(running), timeout=timeout):
                    if self.stop_signal is None:
                        self._ended(running[sentinel])
            self._drain()
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
        name = signal.Signals(self.stop_signal).name
        print(f"stopped on {name}: in-flight requests were finished", file=sys.stderr, flush=True)
        return 0

    def _drain(self) -> None:
        """SIGTERM to every worker (each drains like a single server), then wait for all. The
        parent's copy of the socket goes first: once the workers have closed theirs, the port is
        closed and a new connection is refused, not left waiting in a backlog nobody reads."""
        self.sock.close()
        processes = [slot.process for slot in self.slots if slot.process is not None]
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + self.shutdown_timeout + 15
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():  # stuck past its own shutdown timeout
                process.kill()
                process.join()
        for slot in self.slots:
            if slot.report is not None:
                slot.report.close()
