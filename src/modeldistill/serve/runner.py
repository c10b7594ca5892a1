"""Running uvicorn on a socket this process bound: the socket, uvicorn's settings, the server class
that drains on every stop signal. Shared by the single-process server and the workers."""

import contextlib
import os
import signal
import socket
import sys
import threading

from modeldistill.errors import UserError
from modeldistill.serve.config import ServeConfig
from modeldistill.serve.protocol import protocol_class


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or a one-line UserError (port in use, unknown address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    sock.set_inheritable(True)
    return sock


# Each stops the server the same way: no new connections, in-flight requests get up to
# --shutdown-timeout, then exit 0. uvicorn handles SIGINT and SIGTERM only, and SIGHUP's default
# action ends the process at once, dropping what was in flight.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def server_class(announce: bool = True):
    """`announce`: say "stopped on SIG..." when stopped (a worker leaves that to its parent)."""
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopped gracefully by any of STOP_SIGNALS, exiting 0 after saying
        why in one line (uvicorn re-raises the signal after its shutdown, which for SIGINT and
        SIGHUP means a traceback or exit 129)."""

        @contextlib.contextmanager
        def capture_signals(self):
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            original = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
            try:
                yield
            finally:
                for sig, handler in original.items():
                    signal.signal(sig, handler)
            if self._captured_signals and announce:
                name = signal.Signals(self._captured_signals[0]).name
                print(f"stopped on {name}: in-flight requests were finished", file=sys.stderr)

    return Server


def uvicorn_settings(config: ServeConfig) -> dict:
    """uvicorn's settings for `config`: the HTTP limits (a protocol class), timeouts, logging.
    Each worker of `--workers N` builds its own from the settings the supervisor hands it."""
    return dict(
        http=protocol_class(config.http_limits),
        timeout_keep_alive=config.keep_alive_timeout,
        log_level=os.environ.get("MODELDISTILL_LOG_LEVEL", "warning").lower(),
        access_log=config.access_log,
        timeout_graceful_shutdown=config.shutdown_timeout,
        server_header=False,
        lifespan="on",
    )
