"""Pure ASGI middleware: the body limit, security and cache headers, request metrics."""

import time
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from modeldistill.serve.metrics import Metrics
from modeldistill.serve.protocol import CLOSED_BY_SERVER

INFERENCE_ROUTES = ("/api/v1/predict", "/predict")
EARLY_ROUTES = {(b"POST", b"/api/v1/predict"): "/api/v1/predict", (b"GET", b"/predict"): "/predict"}
API_ROUTES = ("/api/v1/predict", "/api/v1/model", "/predict", "/healthz", "/readyz", "/metrics")
# Strict for the page: only this origin's scripts, styles and connections; no frames, no plugins.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# Swagger UI sets inline styles; its scripts still come only from this origin.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


# nginx's code for "the client closed the connection before the answer": never sent, but it
# keeps disconnects apart from the client's own mistakes (400) in /metrics.
CLIENT_CLOSED_REQUEST = 499


def query_is_utf8(query: bytes) -> bool:
    try:
        unquote_to_bytes(query).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def repeated_parameter(query: bytes) -> str | None:
    """The first name given twice in `query`. `?search=hello&search=kill+them` would be scored as
    whichever one the framework keeps (the last) while a filter in front may read the first."""
    if b"&" not in query:
        return None
    seen = set()
    for part in query.split(b"&"):
        if part:
            name = unquote_plus(part.split(b"=", 1)[0].decode("utf-8", "replace"))
            if name in seen:
                return name
            seen.add(name)
    return None


def host_allowed(value: bytes, allowed: list[str]) -> bool:
    """Starlette's TrustedHostMiddleware rule ("*", "*.example.org" or a name), the port
    stripped, IPv6 literals ("[::1]:8000") kept whole."""
    host = value.decode("latin-1").lower()
    host = host[: host.find("]") + 1] if host.startswith("[") else host.split(":", 1)[0]
    return any(
        pattern == "*"
        or host == pattern
        or (pattern.startswith("*.") and host.endswith(pattern[1:]))
        for pattern in allowed
    )


class Observe:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): metrics, security headers, the
    body limit, HEAD wherever GET is allowed, the Host check, and query strings that must be
    UTF-8 and name each parameter once."""

    def __init__(
        self,
        app: Any,
        metrics: Metrics,
        max_body_bytes: int,
        gate: "Gate",
        allowed_hosts: list[str] | None = None,
    ):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        # Which limit, so that a client whose texts are within --max-texts and --max-chars knows
        # it is the server's body setting, not its texts, that refused it.
        self.too_large = f"body larger than {max_body_bytes} bytes (the server's --max-body-bytes)"
        self.gate = gate
        # Lower case, as host names compare; "*" alone is the same as no check.
        self.allowed_hosts = [host.lower() for host in allowed_hosts or ()]
        if "*" in self.allowed_hosts:
            self.allowed_hosts = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in API_ROUTES or path in ("/", "/docs") else "other"
        if path.startswith("/static/"):
            route = "/static"
        extra = headers_for(path)
        status = 500
        start = time.perf_counter()
        if scope["method"] == "HEAD":
            # Routed as GET; uvicorn still sends no body, as it reads the method from its own
            # copy of the scope.
            scope = {**scope, "method": "GET"}

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
                raise HTTPException(413, detail=self.too_large)
            return message

        async def refuse(status: int, detail: str) -> None:
            await JSONResponse({"detail": detail}, status)(scope, receive, send_with_headers)

        try:
            if self.allowed_hosts:
                # Here, not in Starlette's TrustedHostMiddleware: its 400 is plain text, and it
                # reads the first of two Host headers.
                hosts = [value for name, value in scope["headers"] if name == b"host"]
                if len(hosts) != 1 or not host_allowed(hosts[0], self.allowed_hosts):
                    await refuse(400, "Host header not allowed (one of --allowed-hosts, once)")
                    return
            length = content_length(scope)
            if length is not None and length > self.max_body_bytes:
                await JSONResponse({"detail": self.too_large}, 413)(
                    scope, receive, send_with_headers
                )
                return
            refusal = self.gate.refusal(route)
            if refusal is not None:
                response = JSONResponse({"detail": refusal.detail}, 503, refusal.headers)
                await response(scope, receive, send_with_headers)
                return
            query = scope["query_string"]
            if query and not query_is_utf8(query):
                # Starlette would decode it with U+FFFD in place of the bad bytes and score that.
                await refuse(400, "query string is not UTF-8 text")
                return
            if query and (name := repeated_parameter(query)) is not None:
                await refuse(400, f"query parameter {name!r} given more than once")
                return
            await self.app(scope, receive_with_limit, send_with_headers)
        finally:
            # The protocol answered 408 itself when the body did not arrive in time.
            status = scope.get(CLOSED_BY_SERVER, status)
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)


class Gate:
    """Refuses inference requests while the service is full (`Service.refusal`), before their
    body is parsed: under overload most requests are refused, and the cheaper that is, the more
    of the cores the admitted requests get. The protocol calls `early` before the app starts;
    requests that reach the app without it (tests, other servers) meet `refusal` in `Observe`.
    Off when a Host check or CORS must answer first."""

    def __init__(self, metrics: Metrics, refusal: Any, enabled: bool = True):
        self.metrics = metrics
        self.service_refusal = refusal
        self.enabled = enabled

    def refusal(self, route: str) -> HTTPException | None:
        if not self.enabled or route not in INFERENCE_ROUTES:
            return None
        refusal = self.service_refusal()
        if refusal is not None:
            self.metrics.rejected.inc()
        return refusal

    def early(self, method: bytes, raw_path: bytes) -> tuple | None:
        """(503, detail, headers) for the protocol to answer itself, or None."""
        route = EARLY_ROUTES.get((method, raw_path))
        refusal = self.refusal(route) if route else None
        if refusal is None:
            return None
        self.metrics.requests.labels(route, "503").inc()
        retry = (b"retry-after", refusal.headers["Retry-After"].encode())
        return 503, refusal.detail, [retry, *headers_for(route)]


def content_length(scope: dict) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def headers_for(path: str) -> list[tuple[bytes, bytes]]:
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
