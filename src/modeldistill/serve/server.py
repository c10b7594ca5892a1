"""Starting and stopping the server: the listening socket, uvicorn, SIGTERM, `--workers N`."""

import argparse
import sys

from modeldistill import settings as cfg
from modeldistill.errors import UserError
from modeldistill.paths import resolve_model_dir
from modeldistill.serve.app import create_app
from modeldistill.serve.config import ServeConfig
from modeldistill.serve.runner import bind, server_class, uvicorn_settings
from modeldistill.serve.service import load_classifier
from modeldistill.serve.supervisor import Supervisor, model_version


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cfg.add_arguments(parser, ServeConfig)


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
        server = server_class()(uvicorn.Config(app, **settings))
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
