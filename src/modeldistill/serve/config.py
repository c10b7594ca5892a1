"""`ServeConfig`: every setting of `modeldistill serve`, one flag each, checked when built."""

from dataclasses import dataclass
from pathlib import Path

from modeldistill.config import option, require
from modeldistill.inference import BACKENDS

CONFIG_ENV = "MODELDISTILL_SERVE_CONFIG"  # how `--workers N` hands the settings to each worker


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
