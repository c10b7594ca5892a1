"""The ASGI app: routes, error handlers and the middleware around them."""

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AfterValidator, ValidationError
from starlette.requests import ClientDisconnect

from modeldistill.inference.classifier import Classifier, Prediction, TextTooLong
from modeldistill.serve.capacity import serving_capacity
from modeldistill.serve.config import ServeConfig
from modeldistill.serve.metrics import Metrics
from modeldistill.serve.middleware import CLIENT_CLOSED_REQUEST, Gate, Observe
from modeldistill.serve.protocol import EARLY_REFUSAL, ON_DISCONNECT, ON_REFUSAL
from modeldistill.serve.schemas import (
    ErrorBody,
    LegacyResponse,
    ModelInfo,
    ModelRef,
    PredictResponse,
    Status,
    ValidationErrorBody,
    not_blank,
    request_model,
)
from modeldistill.serve.service import Service, calibration, load_classifier
from modeldistill.text import visible_pattern

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def read_body(request: Request) -> bytes:
    try:
        body = await request.body()
    except ClientDisconnect:
        raise ClientGone from None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HTTPException(400, detail=f"body is not UTF-8 text (byte {error.start})") from None
    return body


def require_json(request: Request) -> None:
    """415 unless the body is declared JSON. A form or text/plain POST is a "simple" request that
    any web page can make a browser send, cross-origin and without a preflight; a JSON one is not."""
    declared = request.headers.getlist("content-type")
    if len(declared) > 1:
        raise HTTPException(400, detail="more than one Content-Type header")
    media, _, params = (declared[0] if declared else "").partition(";")
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    if media.strip().lower() != "application/json" or charset not in ("", "utf-8"):
        raise HTTPException(415, detail="Content-Type must be application/json (UTF-8)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise HTTPException(400, detail=f"key {key!r} appears more than once in the JSON body")
        seen.add(key)
    return dict(pairs)


def refuse_duplicate_keys(body: bytes) -> None:
    """pydantic, like json.loads, keeps the last of two equal keys: `{"texts": ["kill them all"],
    "texts": ["hello"]}` would be scored as "hello" while a filter in front read the first. Run on
    bodies pydantic accepted, so it parses (only strings, lists and one object in them)."""
    json.loads(body, object_pairs_hook=_unique_keys)


class DisconnectWatch:
    """Cancels the request's task when its client disconnects, so that a request waiting for the
    model is dropped from the queue (its future is cancelled) instead of being scored for nobody.
    `gone` tells that cancellation from uvicorn's own at shutdown. The protocol calls it when
    the connection is lost (a callback, not a task watching receive(): free until it fires);
    under another server nothing calls it and a request is scored whoever waits."""

    def __init__(self, request: Request):
        self.callbacks = request.scope.get(ON_DISCONNECT)
        self.gone = False

    def __enter__(self) -> "DisconnectWatch":
        self.task = asyncio.current_task()
        if self.callbacks is not None:
            self.callbacks.append(self._gone)
        return self

    def __exit__(self, *exc) -> None:
        if self.callbacks is not None:
            self.callbacks.remove(self._gone)

    def _gone(self) -> None:
        self.gone = True
        self.task.cancel()


def create_app(config: ServeConfig, classifier: Classifier | None = None) -> FastAPI:
    """The ASGI app. Loads the model now (so a bad one fails before the port is bound) unless
    a loaded `classifier` is given; it answers a warm-up when the app starts."""
    classifier = classifier or load_classifier(config)
    metrics = Metrics()
    service = Service(classifier, config, metrics)
    # A Host check or CORS headers must come before any answer, so they turn early refusal off.
    gate = Gate(metrics, service.refusal, enabled=not (config.allowed_hosts or config.cors_origins))

    def count_refusal(status: int) -> None:
        metrics.requests.labels("protocol", str(status)).inc()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        try:
            # uvicorn hands this state to the protocol
            yield {EARLY_REFUSAL: gate.early, ON_REFUSAL: count_refusal}
        finally:
            await service.stop()

    app = FastAPI(
        title="Model Distillation",
        summary="Hate-speech classification with a distilled BERT student.",
        version=classifier.version,
        docs_url=None,  # FastAPI's own /docs loads Swagger UI from a CDN; ours is served locally
        redoc_url=None,
        lifespan=lifespan,
        # Starlette's slash redirects build an absolute URL from the Host header, which a
        # client controls: `Host: evil.example` would get `location: http://evil.example/...`.
        redirect_slashes=False,
    )
    app.state.service = service
    app.state.metrics = metrics
    PredictRequest = request_model(config)  # noqa: N806 - a class
    model_ref = ModelRef(name=classifier.name, version=classifier.version)
    busy = {503: {"model": ErrorBody, "description": "too many requests in flight or not ready"}}
    too_long = {
        413: {
            "model": ErrorBody,
            "description": "a text needs more passages than --max-windows (its index is named)",
        }
    }

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

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, error: ClientGone) -> Response:
        # Never delivered (the connection is gone); the status is for the metrics and the log.
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> JSONResponse:
        log.error("error on %s: %s: %s", request.url.path, type(error).__name__, error)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    async def classify(request: Request, texts: list[str]) -> list[Prediction]:
        if not service.ready:
            raise HTTPException(503, detail="model is not ready yet", headers={"Retry-After": "1"})
        with service.admit(len(texts)), DisconnectWatch(request) as watch:
            try:
                return await service.predict(texts)
            except TextTooLong as error:
                # The body was within every limit, yet this text would cost more model calls
                # than a text is allowed: too large, like a body past --max-body-bytes.
                raise HTTPException(413, detail=str(error)) from None
            except asyncio.CancelledError:
                if watch.gone:  # the watch cancelled this task: nobody is left to answer
                    asyncio.current_task().uncancel()
                    raise ClientGone from None
                # uvicorn cancels requests still running when --shutdown-timeout ends and would
                # answer them a plain 500; say instead that this server is going (retry another).
                asyncio.current_task().uncancel()
                raise HTTPException(
                    503, detail="server shutting down; retry", headers={"Retry-After": "1"}
                ) from None

    request_schema = PredictRequest.model_json_schema()
    generate_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schemas = generate_openapi().setdefault("components", {}).setdefault("schemas", {})
            schemas["PredictRequest"] = request_schema
        return app.openapi_schema

    app.openapi = openapi

    @app.post(
        "/api/v1/predict",
        response_model=PredictResponse,
        responses={
            400: {
                "model": ErrorBody,
                "description": "body is not UTF-8 text, or has a key twice",
            },
            413: {
                "model": ErrorBody,
                "description": "body too large, or a text needs more passages than --max-windows",
            },
            415: {"model": ErrorBody, "description": "Content-Type is not application/json"},
            422: {
                "model": ValidationErrorBody,
                "description": "malformed JSON, or texts that break the limits",
            },
            **busy,
        },
        # The body is parsed below (pydantic's JSON parser, not json.loads), so its schema is
        # given here for /docs and clients.
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}
                },
            }
        },
        tags=["predict"],
    )
    async def predict(request: Request) -> dict:
        """Classify 1 to `max_texts` texts; results come back in input order."""
        require_json(request)
        body = await read_body(request)
        try:
            texts = PredictRequest.model_validate_json(body).texts
        except ValidationError as error:
            # Every malformed body lands here: bad JSON, nesting past the parser's depth limit,
            # numbers of any size, wrong types. One code for all of them: 422.
            raise RequestValidationError(
                [{**item, "loc": ("body", *item["loc"])} for item in error.errors()]
            ) from None
        refuse_duplicate_keys(body)
        predictions = await classify(request, texts)
        return {"model": model_ref, "results": [p.to_dict() for p in predictions]}

    @app.get(
        "/predict",
        response_model=LegacyResponse,
        response_model_exclude_none=True,
        responses={
            400: {
                "model": ErrorBody,
                "description": "a query parameter given twice, or a query string not UTF-8",
            },
            **too_long,
            **busy,
        },
        tags=["predict"],
    )
    async def predict_legacy(
        request: Request,
        search: Annotated[
            str,
            Query(
                min_length=1,
                max_length=config.max_chars,
                description="the text",
                json_schema_extra={"pattern": visible_pattern()},
            ),
            AfterValidator(not_blank),
        ],
    ) -> dict:
        """The original app's contract: one text in, Toxic or Not Toxic with a confidence."""
        (prediction,) = await classify(request, [search])
        p_toxic = (
            prediction.scores.get(classifier.toxic_label, 0.0) if classifier.toxic_label else 0.0
        )
        answer = (
            {"label": "Toxic", "confidence": p_toxic}
            if prediction.toxic
            else {"label": "Not Toxic", "confidence": 1.0 - p_toxic}
        )
        return {**answer, "passage": prediction.passage}

    @app.get("/api/v1/model", response_model=ModelInfo, tags=["model"])
    async def model_info() -> dict:
        """The model in use, its task, its test metrics and calibration, and this server's
        input limits."""
        return {
            **classifier.describe(),
            "metrics": classifier.metrics,
            "task": classifier.task,
            "calibration": calibration(classifier),
            "limits": {
                "max_texts": config.max_texts,
                "max_chars": config.max_chars,
                "max_body_bytes": config.max_body_bytes,
                "max_windows": classifier.max_windows,
            },
        }

    @app.get("/healthz", response_model=Status, tags=["health"])
    async def healthz() -> dict:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=Status, responses={503: {"model": Status}}, tags=["health"])
    async def readyz() -> Any:
        """The model is loaded and has answered a warm-up request, and with --workers every
        worker asked for serves the same model version (503 "degraded" while one is missing)."""
        capacity = serving_capacity()
        if service.ready and capacity is not None and capacity[0] < capacity[1]:
            degraded = {
                "status": "degraded",
                "workers_serving": capacity[0],
                "workers": capacity[1],
            }
            return JSONResponse(degraded, status_code=503, headers={"Retry-After": "1"})
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
    app.add_middleware(
        Observe,
        metrics=metrics,
        max_body_bytes=config.max_body_bytes,
        gate=gate,
        allowed_hosts=config.allowed_hosts,
    )
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
