"""The web page and JSON API: FastAPI under uvicorn, with micro-batching, limits and metrics.

    modeldistill serve                                  # models/default on http://127.0.0.1:8000
    modeldistill serve --model models/default --port 8080 --workers 2 --no-batching

Routes: `/` (the page), `POST /api/v1/predict`, `GET /predict?search=` (the original app's
contract), `GET /api/v1/model`, `/healthz`, `/readyz`, `/metrics` (Prometheus), `/docs` (OpenAPI).
In code: `create_app(ServeConfig(model=...))` gives the ASGI app (tests use it with TestClient).

Modules: `config` (the settings), `schemas` (request and response bodies), `service` (the model,
admission and the micro-batcher), `metrics`, `middleware` (limits, security headers, metrics),
`app` (the app factory and its routes), `protocol` (HTTP limits uvicorn lacks), `server` (the socket, uvicorn, shutdown and the CLI),
`supervisor` (`--workers N`: one model version, restarts with back-off, capacity in /readyz).
"""

from modeldistill.serve.app import STATIC_DIR, create_app
from modeldistill.serve.config import ServeConfig
from modeldistill.serve.metrics import Metrics
from modeldistill.serve.runner import bind, uvicorn_settings
from modeldistill.serve.server import add_arguments, main
from modeldistill.serve.service import Service, check_answers, load_classifier

__all__ = [
    "STATIC_DIR",
    "Metrics",
    "ServeConfig",
    "Service",
    "add_arguments",
    "bind",
    "check_answers",
    "create_app",
    "load_classifier",
    "main",
    "uvicorn_settings",
]
