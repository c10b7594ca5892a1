"""The Prometheus metrics of one app."""

from prometheus_client import CollectorRegistry, Counter, Histogram


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
            "requests refused at admission (requests, texts or expected wait over their limit)",
            registry=self.registry,
        )
        self.dropped = Counter(
            "inference_dropped",
            "admitted requests dropped before their model call, by reason "
            "(deadline: waited past --max-queue-wait-ms; client_gone: the client disconnected)",
            ["reason"],
            registry=self.registry,
        )
