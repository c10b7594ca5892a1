"""Helpers for the serve tests: a real uvicorn server, in a thread, on a free loopback port."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path


class LiveServer:
    """uvicorn serving `app` with the protocol, limits and timeouts `modeldistill serve` uses,
    in a thread (so a test can reach the app and its model); ready once the model has answered
    its warm-up; stopped on exit."""

    def __init__(self, app, shutdown_timeout: float | None = None, start_timeout: float = 120):
        import uvicorn

        from modeldistill.serve import bind, uvicorn_settings

        self.app = app
        self.start_timeout = start_timeout
        self.sock = bind("127.0.0.1", 0)
        self.address = self.sock.getsockname()[:2]
        self.url = "http://{}:{}".format(*self.address)
        settings = uvicorn_settings(app.state.service.config)
        settings.update(log_level="critical", timeout_graceful_shutdown=shutdown_timeout)
        self.server = uvicorn.Server(uvicorn.Config(app, **settings))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not (self.server.started and self.app.state.service.ready):
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.sock.close()


@contextlib.contextmanager
def live_server(model_dir: Path, classifier=None, **settings):
    """(host, port) of a LiveServer for the model in `model_dir` (`settings`: ServeConfig
    fields)."""
    from modeldistill.inference.classifier import Classifier
    from modeldistill.serve import ServeConfig, create_app

    classifier = classifier or Classifier.load(model_dir, backend="torch")
    app = create_app(ServeConfig(model=model_dir, **settings), classifier)
    with LiveServer(app) as live:
        yield live.address
