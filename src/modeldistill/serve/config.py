"""`ServeConfig`: every setting of `modeldistill serve`, one flag each, checked when built."""

from dataclasses import dataclass
from pathlib import Path

from modeldistill.inference.backends import BACKENDS
from modeldistill.inference.folder import DEFAULT_MAX_WINDOWS, MAX_WINDOWS_HELP
from modeldistill.serve.protocol import HttpLimits
from modeldistill.settings import option, require


def body_limit_for(max_texts: int, max_chars: int) -> int:
    """The largest body a request within --max-texts and --max-chars can be: each character
    (a code point) as a \\uXXXX\\uXXXX surrogate pair is 12 bytes of JSON (an emoji sent
    escaped; 4 bytes as raw UTF-8), each text adds its quotes, comma and a space, and
    `{"texts": []}` the rest. So a request the text limits accept is never refused as too big."""
    return max_texts * (max_chars * 12 + 4) + 16


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
    max_queued_texts: int = option(
        1024, "texts admitted and not yet answered; a request that would pass it gets 503"
    )
    max_queue_wait_ms: float = option(
        1000.0,
        "a request whose inference cannot start within this many ms gets 503 + Retry-After "
        "at once (estimated from the texts ahead of it), or is dropped when the time has passed",
    )
    batching: bool = option(True, "gather concurrent requests into one model call")
    max_batch_size: int = option(32, "most texts in one micro-batch")
    max_wait_ms: float = option(
        0.0, "extra ms a batch waits for more requests (0: take what queued during the last call)"
    )
    max_body_bytes: int | None = option(
        None,
        "largest request body; bigger gets 413 (default: what --max-texts texts of --max-chars "
        "characters take as JSON at worst, max_texts * (max_chars * 12 + 4) + 16 bytes)",
    )
    max_texts: int = option(64, "most texts in one API request")
    max_chars: int = option(5000, "most characters in one text")
    max_windows: int = option(DEFAULT_MAX_WINDOWS, MAX_WINDOWS_HELP + " (413)")
    cors_origins: list[str] = option(
        [], "origins allowed to call the API from a browser (default: none)"
    )
    allowed_hosts: list[str] = option(
        [], "Host header values to answer, e.g. api.example.org (default: any); others get 400"
    )
    max_header_bytes: int = option(
        16 * 1024, "largest request line and headers together; bigger gets 431"
    )
    max_headers: int = option(100, "most request headers; more get 431")
    header_timeout: float = option(10.0, "seconds to receive a request's headers; then 408")
    body_timeout: float = option(20.0, "seconds to receive a request's body; then 408")
    keep_alive_timeout: float = option(5.0, "seconds an idle keep-alive connection stays open")
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
        require(self.max_windows >= 1, f"max_windows must be at least 1, got {self.max_windows}")
        if self.max_body_bytes is None:
            self.max_body_bytes = body_limit_for(self.max_texts, self.max_chars)
        require(
            self.max_body_bytes >= 1024,
            f"max_body_bytes must be at least 1024, got {self.max_body_bytes}",
        )
        require(self.max_texts >= 1, f"max_texts must be at least 1, got {self.max_texts}")
        require(self.max_chars >= 1, f"max_chars must be at least 1, got {self.max_chars}")
        require(
            self.max_queued_texts >= self.max_texts,
            f"max_queued_texts must be at least max_texts ({self.max_texts}), "
            f"got {self.max_queued_texts}",
        )
        require(
            0 < self.max_queue_wait_ms <= 60_000,
            f"max_queue_wait_ms must be in (0, 60000], got {self.max_queue_wait_ms}",
        )
        require(
            1024 <= self.max_header_bytes <= 1_048_576,
            f"max_header_bytes must be in 1024..1048576, got {self.max_header_bytes}",
        )
        require(self.max_headers >= 8, f"max_headers must be at least 8, got {self.max_headers}")
        for name in ("header_timeout", "body_timeout", "keep_alive_timeout"):
            value = getattr(self, name)
            require(0 < value <= 3600, f"{name} must be in (0, 3600] seconds, got {value}")
        require(
            self.shutdown_timeout >= 0,
            f"shutdown_timeout must be 0 or more, got {self.shutdown_timeout}",
        )
        bad_hosts = [host for host in self.allowed_hosts if "/" in host or not host]
        require(not bad_hosts, f"allowed_hosts must be host names, got {bad_hosts}")
        bad = [origin for origin in self.cors_origins if origin != "*" and "://" not in origin]
        require(not bad, f"cors_origins must be full origins like https://example.org, got {bad}")

    @property
    def http_limits(self) -> HttpLimits:
        return HttpLimits(
            max_header_bytes=self.max_header_bytes,
            max_headers=self.max_headers,
            header_timeout=self.header_timeout,
            body_timeout=self.body_timeout,
        )
