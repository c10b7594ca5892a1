"""Helpers for the serve tests: a real uvicorn server on a free loopback port."""

from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path


@contextlib.contextmanager
def live_server(model_dir: Path, classifier=None, startup_timeout: float = 120.0, **settings):
    """(host, port) of uvicorn serving the app in a thread on a free loopback port, with the
    protocol and limits `modeldistill serve` uses (`settings` are ServeConfig fields), once the
    model has answered its warm-up; stopped on exit."""
    import uvicorn

    from modeldistill.inference import Classifier
    from modeldistill.serve import ServeConfig, bind, create_app, uvicorn_settings

    classifier = classifier or Classifier.load(model_dir, backend="torch")
    config = ServeConfig(model=model_dir, **settings)
    app = create_app(config, classifier)
    sock = bind("127.0.0.1", 0)
    options = {**uvicorn_settings(config), "log_level": "critical"}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not (server.started and app.state.service.ready):
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield sock.getsockname()[:2]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
