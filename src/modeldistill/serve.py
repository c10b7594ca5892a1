"""The web page and JSON API: FastAPI under uvicorn, with micro-batching, limits and metrics.

    modeldistill serve                                  # models/default on http://127.0.0.1:8000
    modeldistill serve --model models/default --port 8080 --workers 2 --no-batching

Routes: `/` (the page), `POST /api/v1/predict`, `GET /predict?search=` (the original app's
contract), `GET /api/v1/model`, `/healthz`, `/readyz`, `/metrics` (Prometheus), `/docs` (OpenAPI).
In code: `create_app(ServeConfig(model=...))` gives the ASGI app (tests use it with TestClient).
"""

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
)

from modeldistill import config as cfg
from modeldistill.config import option, require
from modeldistill.errors import UserError
from modeldistill.inference import BACKENDS, Classifier, Prediction
from modeldistill.paths import resolve_model_dir

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
CONFIG_ENV = "MODELDISTILL_SERVE_CONFIG"  # how `--workers N` hands the settings to each worker
API_ROUTES = ("/api/v1/predict", "/api/v1/model", "/predict", "/healthz", "/readyz", "/metrics")
# Strict for the page: only this origin's scripts, styles and connections; no frames, no plugins.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Swagger UI sets inline styles; its scripts still come only from this origin.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
WARM_UP_TEXT = "warm-up: the model answers before the server says it is ready"


@dataclass
class ServeConfig:
    model: Path | None = option(
        None, "exported model folder (default: $MODELDISTILL_MODEL or models/default)"
    )
    backend: str = option("auto", "inference backend", choices=BACKENDS)
    host: str = option("127.0.0.1", "address to listen on (0.0.0.0 only behind a proxy)")
    port: int = option(8000, "TCP port")
    workers: int = option(1, "server processes, each with its own copy of the model")
    threads: int = option(1, "compute threads per worker; scale out with --workers instead")
    max_in_flight: int = option(
        256, "inference requests admitted at once; more get 503 + Retry-After"
    )
    batching: bool = option(True, "gather concurrent requests into one model call")
    max_batch_size: int = option(32, "most texts in one micro-batch")
    max_wait_ms: float = option(
        0.0, "extra ms a batch waits for more requests (0: take what queued during the last call)"
    )
    max_body_bytes: int = option(1_000_000, "largest request body; bigger gets 413")
    max_texts: int = option(64, "most texts in one API request")
    max_chars: int = option(5000, "most characters in one text")
    cors_origins: list[str] = option(
        [], "origins allowed to call the API from a browser (default: none)"
    )
    shutdown_timeout: float = option(10.0, "seconds to finish in-flight requests after SIGTERM")
    access_log: bool = option(False, "log one line per request")

    def __post_init__(self) -> None:
        if self.model is not None:
            self.model = Path(self.model)
        require(self.backend in BACKENDS, f"backend must be one of {', '.join(BACKENDS)}")
        require(0 < self.port < 65536, f"port must be in 1..65535, got {self.port}")
        require(self.workers >= 1, f"workers must be at least 1, got {self.workers}")
        require(self.threads >= 1, f"threads must be at least 1, got {self.threads}")
        require(
            self.max_in_flight >= 1, f"max_in_flight must be at least 1, got {self.max_in_flight}"
        )
        require(
            self.max_batch_size >= 1,
            f"max_batch_size must be at least 1, got {self.max_batch_size}",
        )
        require(
            0 <= self.max_wait_ms <= 1000, f"max_wait_ms must be in 0..1000, got {self.max_wait_ms}"
        )
        require(
            self.max_body_bytes >= 1024,
            f"max_body_bytes must be at least 1024, got {self.max_body_bytes}",
        )
        require(self.max_texts >= 1, f"max_texts must be at least 1, got {self.max_texts}")
        require(self.max_chars >= 1, f"max_chars must be at least 1, got {self.max_chars}")
        require(
            self.shutdown_timeout >= 0,
            f"shutdown_timeout must be 0 or more, got {self.shutdown_timeout}",
        )
        bad = [origin for origin in self.cors_origins if origin != "*" and "://" not in origin]
        require(not bad, f"cors_origins must be full origins like https://example.org, got {bad}")


# ---- API schema -------------------------------------------------------------------------------


class Result(BaseModel):
    label: str = Field(description="the most probable label")
    score: float = Field(description="probability of `label`")
    toxic: bool = Field(description="probability of the toxic label reached the model's threshold")
    scores: dict[str, float] = Field(description="probability of every label")
    truncated: bool = Field(
        description="the text was longer than the model reads; only its start was scored"
    )


class ModelRef(BaseModel):
    name: str
    version: str


class PredictResponse(BaseModel):
    model: ModelRef
    results: list[Result] = Field(description="one result per text, in input order")


class LegacyResponse(BaseModel):
    label: Literal["Toxic", "Not Toxic"]
    confidence: float = Field(description="probability that the verdict is right")


class Limits(BaseModel):
    max_texts: int
    max_chars: int
    max_body_bytes: int


class ModelInfo(BaseModel):
    name: str
    version: str
    backend: str
    labels: list[str]
    toxic_label: str | None
    threshold: float
    max_length: int
    metrics: dict[str, Any] | None = Field(
        description="the model's test metrics (metrics.json), if shipped"
    )
    limits: Limits


class Status(BaseModel):
    status: str


class ErrorBody(BaseModel):
    detail: str


def _not_blank(text: str) -> str:
    # The page and `modeldistill predict` refuse blank texts too: a score for nothing means nothing.
    if not text.strip():
        raise ValueError("text is blank (whitespace only)")
    return text


def _request_model(config: ServeConfig) -> type[BaseModel]:
    """The request body, with this server's limits written into its schema."""
    text = Annotated[
        str,
        StringConstraints(min_length=1, max_length=config.max_chars),
        AfterValidator(_not_blank),
    ]
    texts = Annotated[
        list[text],
        Field(min_length=1, max_length=config.max_texts, description="texts to classify"),
    ]
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(strict=True, extra="forbid"),
        texts=(texts, ...),
    )


# ---- the model behind a bounded admission counter and a micro-batcher -------------------------


class Metrics:
    def __init__(self) -> None:
        # A registry per app keeps test apps (and their counters) apart.
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "time from request to the end of the response",
            ["route"],
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
            registry=self.registry,
        )
        self.inference = Histogram(
            "model_inference_seconds",
            "time of one model call (a whole batch)",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2),
            registry=self.registry,
        )
        self.batch = Histogram(
            "model_batch_size",
            "texts per model call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.rejected = Counter(
            "inference_rejected",
            "requests refused because too many were in flight",
            registry=self.registry,
        )


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future


class Service:
    """The loaded model, how many requests are in flight, and the batcher that feeds the model."""

    def __init__(self, classifier: Classifier, config: ServeConfig, metrics: Metrics):
        self.classifier = classifier
        self.config = config
        self.metrics = metrics
        self.in_flight = 0
        self.ready = False
        self.executor: ThreadPoolExecutor | None = None
        self.queue: asyncio.Queue[_Job] | None = None
        self.batcher: asyncio.Task | None = None

    async def start(self) -> None:
        # Made here, not in __init__, so an app can be started again after a stop (tests do).
        # One model call at a time: the model already uses every core within a call.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        if self.config.batching:
            self.queue = asyncio.Queue()  # bounded in practice: only admitted requests enqueue
            self.batcher = asyncio.create_task(self._batch_loop(), name="micro-batcher")
        check_answers(self.classifier, await self.predict([WARM_UP_TEXT]))
        self.ready = True
        log.info("model %s warmed up", self.classifier.name)

    async def stop(self) -> None:
        self.ready = False
        if self.batcher is not None:
            self.batcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.batcher
        self.executor.shutdown(wait=True)
        self.queue = self.batcher = None

    @contextlib.contextmanager
    def admit(self):
        """Count a request in, or refuse it at once when the limit is reached (no queue)."""
        if self.in_flight >= self.config.max_in_flight:
            self.metrics.rejected.inc()
            raise HTTPException(
                503,
                detail=f"server busy: {self.in_flight} requests in flight; retry shortly",
                headers={"Retry-After": "1"},
            )
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def predict(self, texts: list[str]) -> list[Prediction]:
        if self.queue is None:
            return await self._run(texts)
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(_Job(texts, future))
        return await future

    async def _run(self, texts: list[str]) -> list[Prediction]:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._predict, texts)

    def _predict(self, texts: list[str]) -> list[Prediction]:
        start = time.perf_counter()
        predictions = self.classifier.predict(texts)
        self.metrics.inference.observe(time.perf_counter() - start)
        self.metrics.batch.observe(len(texts))
        return predictions

    async def _next_job(self, timeout: float) -> _Job | None:
        # asyncio.wait_for on Queue.get can drop an item when the timeout races the hand-over.
        getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait({getter}, timeout=timeout)
        if getter in done:
            return getter.result()
        getter.cancel()
        try:
            return await getter
        except asyncio.CancelledError:
            return None

    async def _batch_loop(self) -> None:
        # Written by hand: a few lines of asyncio; no maintained library batches for FastAPI.
        loop = asyncio.get_running_loop()
        carried: _Job | None = None
        while True:
            job = carried or await self.queue.get()
            carried = None
            batch, size = [job], len(job.texts)
            deadline = loop.time() + self.config.max_wait_ms / 1000
            while size < self.config.max_batch_size:
                try:
                    job = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    # Wait only while other admitted requests may still join; alone, go at once.
                    remaining = deadline - loop.time()
                    if self.in_flight <= len(batch) or remaining <= 0:
                        break
                    job = await self._next_job(remaining)
                    if job is None:
                        break
                if size + len(job.texts) > self.config.max_batch_size:
                    carried = job
                    break
                batch.append(job)
                size += len(job.texts)
            texts = [text for job in batch for text in job.texts]
            try:
                predictions = await self._run(texts)
            except Exception as error:  # handed to each waiting request, which answers 500
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(error)
                continue
            start = 0
            for job in batch:
                if not job.future.done():  # a client that went away leaves a cancelled future
                    job.future.set_result(predictions[start : start + len(job.texts)])
                start += len(job.texts)


# ---- the ASGI app -----------------------------------------------------------------------------


class _Observe:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): metrics and security headers."""

    def __init__(self, app: Any, metrics: Metrics, max_body_bytes: int):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in API_ROUTES or path in ("/", "/docs") else "other"
        if path.startswith("/static/"):
            route = "/static"
        extra = _headers_for(path)
        status = 500
        start = time.perf_counter()

        async def send_with_headers(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        # By hand: Starlette's own body limit answers 413 in plain text, not the API's JSON.
        received = 0

        async def receive_with_limit() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(413, detail=f"body larger than {self.max_body_bytes} bytes")
            return message

        try:
            length = _content_length(scope)
            if length is not None and length > self.max_body_bytes:
                detail = f"body larger than {self.max_body_bytes} bytes"
                await JSONResponse({"detail": detail}, 413)(scope, receive, send_with_headers)
                return
            await self.app(scope, receive_with_limit, send_with_headers)
        finally:
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


def _content_length(scope: dict) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _headers_for(path: str) -> list[tuple[bytes, bytes]]:
    if path.startswith(("/static/", "/docs/")):
        cache = b"public, max-age=3600"
    elif path in ("/", "/docs"):
        cache = b"no-cache"
    else:
        cache = b"no-store"  # answers depend on the input and the model: never cache them
    return [
        (b"content-security-policy", (DOCS_CSP if path == "/docs" else CSP).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cache-control", cache),
    ]


def load_classifier(config: ServeConfig) -> Classifier:
    """The model named by the config, or a UserError saying what is wrong with it."""
    path = resolve_model_dir(config.model)
    try:
        classifier = Classifier.load(path, backend=config.backend, threads=config.threads)
        check_answers(classifier, classifier.predict([WARM_UP_TEXT]))
    except UserError:
        raise
    except Exception as error:  # anything else a broken folder raises is still the user's to fix
        raise UserError(
            f"cannot load model {path}: {str(error).splitlines()[0] if str(error) else error!r}"
        ) from error
    return classifier


def check_answers(classifier: Classifier, predictions: list[Prediction]) -> None:
    """Weights that load but hold NaN or inf (a corrupt file) would answer `null` scores forever."""
    if not all(math.isfinite(p) for prediction in predictions for p in prediction.scores.values()):
        raise UserError(
            f"model {classifier.path} gives non-finite scores (NaN or inf): its weights are corrupt"
        )


def create_app(config: ServeConfig, classifier: Classifier | None = None) -> FastAPI:
    """The ASGI app. Loads the model now (so a bad one fails before the port is bound) unless
    a loaded `classifier` is given; it answers a warm-up when the app starts."""
    classifier = classifier or load_classifier(config)
    metrics = Metrics()
    service = Service(classifier, config, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="Model Distillation",
        summary="Hate-speech classification with a distilled BERT student.",
        version=classifier.version,
        docs_url=None,  # FastAPI's own /docs loads Swagger UI from a CDN; ours is served locally
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.metrics = metrics
    PredictRequest = _request_model(config)  # noqa: N806 - a class
    model_ref = ModelRef(name=classifier.name, version=classifier.version)
    busy = {503: {"model": ErrorBody, "description": "too many requests in flight or not ready"}}

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's shape ({"detail": [{loc, msg, type}]}) without echoing the (maybe huge) input.
        detail = [
            {
                "loc": list(item.get("loc", ())),
                "msg": item.get("msg", ""),
                "type": item.get("type", ""),
            }
            for item in error.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        log.error("error on %s: %s: %s", request.url.path, type(error).__name__, error)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    async def classify(texts: list[str]) -> list[Prediction]:
        if not service.ready:
            raise HTTPException(503, detail="model is not ready yet", headers={"Retry-After": "1"})
        with service.admit():
            try:
                return await service.predict(texts)
            except asyncio.CancelledError:
                # uvicorn cancels requests still running when --shutdown-timeout ends and would
                # answer them a plain 500; say instead that this server is going (retry another).
                asyncio.current_task().uncancel()
                raise HTTPException(
                    503, detail="server shutting down; retry", headers={"Retry-After": "1"}
                ) from None

    @app.post(
        "/api/v1/predict",
        response_model=PredictResponse,
        responses={
            400: {"model": ErrorBody, "description": "body is not UTF-8 text"},
            413: {"model": ErrorBody, "description": "body too large"},
            **busy,
        },
        tags=["predict"],
    )
    async def predict(body: PredictRequest) -> dict:  # type: ignore[valid-type]
        """Classify 1 to `max_texts` texts; results come back in input order."""
        predictions = await classify(body.texts)
        return {"model": model_ref, "results": [p.to_dict() for p in predictions]}

    @app.get("/predict", response_model=LegacyResponse, responses=busy, tags=["predict"])
    async def predict_legacy(
        search: Annotated[
            str,
            Query(min_length=1, max_length=config.max_chars, description="the text"),
            AfterValidator(_not_blank),
        ],
    ) -> dict:
        """The original app's contract: one text in, Toxic or Not Toxic with a confidence."""
        (prediction,) = await classify([search])
        p_toxic = (
            prediction.scores.get(classifier.toxic_label, 0.0) if classifier.toxic_label else 0.0
        )
        if prediction.toxic:
            return {"label": "Toxic", "confidence": p_toxic}
        return {"label": "Not Toxic", "confidence": 1.0 - p_toxic}

    @app.get("/api/v1/model", response_model=ModelInfo, tags=["model"])
    async def model_info() -> dict:
        """The model in use, its test metrics and this server's input limits."""
        return {
            **classifier.describe(),
            "metrics": classifier.metrics,
            "limits": {
                "max_texts": config.max_texts,
                "max_chars": config.max_chars,
                "max_body_bytes": config.max_body_bytes,
            },
        }

    @app.get("/healthz", response_model=Status, tags=["health"])
    async def healthz() -> dict:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Status, responses={503: {"model": Status}}, tags=["health"])
    async def readyz() -> Any:
        """The model is loaded and has answered a warm-up request."""
        if service.ready:
            return {"status": "ready"}
        return JSONResponse({"status": "not ready"}, status_code=503, headers={"Retry-After": "1"})

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
        tags=["health"],
    )
    async def prometheus_metrics() -> Response:
        """Prometheus metrics of this process."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    _add_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
        )
    app.add_middleware(_Observe, metrics=metrics, max_body_bytes=config.max_body_bytes)
    return app


def _add_docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the swagger-ui-bundle package, so the docs need no CDN either."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        swagger_ui_path = None

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        if swagger_ui_path is None:
            return HTMLResponse(
                '<!doctype html><title>API docs</title><p>The schema is at <a href="/openapi.json">'
                "/openapi.json</a>; install swagger-ui-bundle-v2 to browse it here."
            )
        return FileResponse(STATIC_DIR / "docs.html", media_type="text/html")

    if swagger_ui_path is not None:
        # Two fixed files, not a mounted folder: nothing else of the package can be reached.
        for name, media in (
            ("swagger-ui.css", "text/css"),
            ("swagger-ui-bundle.js", "text/javascript"),
        ):
            app.add_api_route(
                f"/docs/{name}",
                _file_route(Path(swagger_ui_path) / name, media),
                methods=["GET"],
                include_in_schema=False,
            )


def _file_route(path: Path, media: str):
    async def serve_file() -> FileResponse:
        return FileResponse(path, media_type=media)

    return serve_file


def app_from_env() -> FastAPI:
    """uvicorn's factory for `--workers N`: each worker process builds its app from the settings."""
    values = json.loads(os.environ[CONFIG_ENV])
    return create_app(ServeConfig(**values))


# ---- CLI --------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cfg.add_arguments(parser, ServeConfig)


def _bind(host: str, port: int) -> socket.socket:
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


def main(args: argparse.Namespace) -> int:
    import uvicorn

    config = cfg.from_args(ServeConfig, args)
    settings = dict(
        log_level=os.environ.get("MODELDISTILL_LOG_LEVEL", "warning").lower(),
        access_log=config.access_log,
        timeout_graceful_shutdown=config.shutdown_timeout,
        server_header=False,
        lifespan="on",
    )
    url = f"http://{config.host}:{config.port}"
    if config.workers == 1:
        app = create_app(config)  # the model loads (or fails) before the port is bound
        sock = _bind(config.host, config.port)
        name = app.state.service.classifier.name
        print(f"serving {name} ({app.state.service.classifier.backend}) on {url}", file=sys.stderr)
        server = uvicorn.Server(uvicorn.Config(app, **settings))
        # uvicorn re-raises SIGTERM after its graceful shutdown; a handled SIGTERM means exit 0.
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        try:
            server.run(sockets=[sock])
        except SystemExit as exit_:  # uvicorn exits when the app fails to start (warm-up failed)
            raise UserError("the server failed to start; see the log above") from exit_
        finally:
            sock.close()
        return 0
    classifier = load_classifier(config)  # fail here, once, rather than in every worker
    _bind(config.host, config.port).close()
    del classifier
    os.environ[CONFIG_ENV] = json.dumps(cfg.to_jsonable(config))
    print(f"serving {config.workers} workers on {url}", file=sys.stderr)
    uvicorn.run(
        "modeldistill.serve:app_from_env",
        factory=True,
        host=config.host,
        port=config.port,
        workers=config.workers,
        **settings,
    )
    return 0
