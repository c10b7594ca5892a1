"""Starting and stopping the server: the listening socket, uvicorn, SIGTERM, `--workers N`."""

import argparse
import contextlib
import os
import signal
import socket
import sys
import threading

from modeldistill import settings as cfg
from modeldistill.errors import UserError
from modeldistill.paths import resolve_model_dir
from modeldistill.serve.app import create_app
from modeldistill.serve.config import ServeConfig
from modeldistill.serve.protocol import limits_to_env, protocol_class
from modeldistill.serve.service import load_classifier
from modeldistill.serve.supervisor import Supervisor, model_version


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cfg.add_arguments(parser, ServeConfig)


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


def _server_class(announce: bool = True):
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


def uvicorn_settings(config: ServeConfig, workers: bool = False) -> dict:
    """uvicorn's settings for `config`: the HTTP limits (a protocol class, or its import name for
    worker processes, which read the limits from the environment), timeouts and logging."""
    if workers:
        limits_to_env(config.http_limits)
        http = "modeldistill.serve.protocol:FromEnv"
    else:
        http = protocol_class(config.http_limits)
    return dict(
        http=http,
        timeout_keep_alive=config.keep_alive_timeout,
        log_level=os.environ.get("MODELDISTILL_LOG_LEVEL", "warning").lower(),
        access_log=config.access_log,
        timeout_graceful_shutdown=config.shutdown_timeout,
        server_header=False,
        lifespan="on",
    )


def main(args: argparse.Namespace) -> int:
    import uvicorn

    config = cfg.from_args(ServeConfig, args)
    url = f"http://{config.host}:{config.port}"
    if config.workers == 1:
        settings = uvicorn_settings(config)
        app = create_app(config)  # the model loads (or fails) before the port is bound
        sock = bind(config.host, config.port)
        name = app.state.service.classifier.name
        print(f"serving {name} ({app.state.service.classifier.backend}) on {url}", file=sys.stderr)
        server = _server_class()(uvicorn.Config(app, **settings))
        try:
            server.run(sockets=[sock])
        except SystemExit as exit_:  # uvicorn exits when the app fails to start (warm-up failed)
            raise UserError("the server failed to start; see the log above") from exit_
        finally:
            sock.close()
        return 0
    # Resolved, loaded and bound here, once: a bad folder or a taken port fails before any worker
    # starts, and every worker must then find this same version in the folder, or not serve.
    path = resolve_model_dir(config.model)
    version = model_version(path)
    load_classifier(config)  # loads and answers a warm-up, or a one-line UserError; then dropped
    sock = bind(config.host, config.port)
    print(f"serving {config.workers} workers of model version {version} on {url}", file=sys.stderr)
    try:
        return Supervisor(cfg.to_jsonable(config), version, sock, config.workers).run()
    finally:
        sock.close()
