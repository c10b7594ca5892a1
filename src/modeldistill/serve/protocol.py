"""HTTP-layer limits that uvicorn does not enforce: header size and count, and the time a client
may take to send its headers and its body.

uvicorn's httptools protocol (the fast one; h11 is pure Python) accepts headers of any size and
count and waits forever for a request that stops half-way; only idle keep-alive connections time
out. This subclass adds the missing limits where they belong, in the protocol, before the app
sees a request: a request over a header limit gets 431, one too slow to arrive gets 408, and the
connection is closed. Alternatives checked: hypercorn has a header size limit but no header or
body timeout; granian times out headers but not bodies. Both would change the server under a
tuned service for one limit each.
"""

import json
import os
from dataclasses import asdict, dataclass

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

LIMITS_ENV = "MODELDISTILL_HTTP_LIMITS"  # how `--workers N` hands the limits to each worker
# Set in the scope of a request whose body timed out, so the metrics say 408, not "client left".
CLOSED_BY_SERVER = "modeldistill.closed_by_server"
# The key, in the app's lifespan state, of its early refusal: a callable (method, raw path) that
# gives (status, detail, headers) for a request to refuse before the app is started, or None.
EARLY_REFUSAL = "modeldistill.early_refusal"
# A list in each request's scope: what the app wants called if the client disconnects first.
ON_DISCONNECT = "modeldistill.on_disconnect"


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int = 16 * 1024  # request line and headers together (Node.js: 16 KiB)
    max_headers: int = 100  # header lines (Apache's LimitRequestFields)
    header_timeout: float = 10.0  # from the first byte (or the connection) to the blank line
    body_timeout: float = 20.0  # from the end of the headers to the end of the body


class _Refused(Exception):
    """Raised in a parser callback; httptools stops parsing and uvicorn answers it as a parse
    error, through `send_400_response`, which answers this status instead."""

    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits = HttpLimits()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._timer = None
        self._phase = "headers"  # "headers", "body" or "" (a request is with the app, or idle)
        self._raw_header_bytes = 0
        self._header_bytes = 0
        self._header_count = 0
        self._refused: _Refused | None = None
        self._answered_early = False  # this request was refused without the app; skip its body
        self._close_after_body = False
        super().connection_made(transport)
        # A connection that never sends a byte holds a socket too.
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        cycle = self.cycle
        super().connection_lost(exc)
        if cycle is not None and not cycle.response_complete:
            for callback in list(cycle.scope.get(ON_DISCONNECT, ())):
                callback()

    def data_received(self, data: bytes) -> None:
        if self._phase != "body":
            # Counted before parsing: httptools buffers a header until its end, so a 100 MB
            # header would be held in memory before on_header could look at its size.
            self._raw_header_bytes += len(data)
        super().data_received(data)
        if self._phase == "headers" and self._raw_header_bytes > self.limits.max_header_bytes:
            self._refuse(431, f"request headers larger than {self.limits.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[ON_DISCONNECT] = []  # type: ignore[literal-required]
        self._phase = "headers"
        self._header_bytes = self._header_count = 0
        if self._timer is None:  # armed already when this is the connection's first request
            self._arm(self.limits.header_timeout)

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._header_count > self.limits.max_headers:
            self._refused = _Refused(431, f"more than {self.limits.max_headers} request headers")
        elif self._header_bytes > self.limits.max_header_bytes:
            size = self.limits.max_header_bytes
            self._refused = _Refused(431, f"request headers larger than {size} bytes")
        if self._refused is not None:
            raise self._refused
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if self._refused is not None:
            self._refuse(self._refused.status, self._refused.detail)
        else:
            super().send_400_response(msg)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._raw_header_bytes = 0
        headers = dict(self.headers)
        has_body = b"transfer-encoding" in headers or headers.get(b"content-length", b"0") != b"0"
        self._phase = "body" if has_body else ""
        if self._phase == "body":
            self._arm(self.limits.body_timeout)
        if self._refuse_early():
            return
        super().on_headers_complete()

    def _refuse_early(self) -> bool:
        """Under overload nearly every request is refused; answering those here, without an
        ASGI task, the framework and the middleware, leaves the event loop and the cores to the
        requests that were admitted. Only when no earlier request is still being answered."""
        refusal = self.app_state.get(EARLY_REFUSAL)
        if refusal is None or (self.cycle is not None and not self.cycle.response_complete):
            return False
        answer = refusal(self.parser.get_method(), self.url.split(b"?", 1)[0])
        if answer is None:
            return False
        status, detail, headers = answer
        keep_alive = self.parser.should_keep_alive()
        # The parser goes on through the body, maybe in this very call: there is no cycle for it,
        # so it is read and dropped. Closing before it has all arrived would reset the
        # connection, and the client could lose the answer it was sent.
        self._answered_early = self._phase == "body"
        self._close_after_body = not keep_alive
        close_now = not keep_alive and not self._answered_early
        self._write_json(status, detail, headers, close=close_now, say_close=not keep_alive)
        if keep_alive and not self._answered_early:
            self._idle()
        return True

    def on_body(self, body: bytes) -> None:
        if not self._answered_early:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._phase = ""
        if self._answered_early:
            self._answered_early = False
            if self._close_after_body:
                self.transport.close()
            elif not self.transport.is_closing():
                self._idle()
            return
        super().on_message_complete()

    def _idle(self) -> None:
        # What uvicorn does after an answer: wait for the next request for the keep-alive time.
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self._answered_early:  # answered already: only the rest of its body is missing
            self.transport.close()
        elif self._phase == "body":
            self._refuse(408, f"request body not received within {self.limits.body_timeout} s")
        elif self._raw_header_bytes:
            self._refuse(408, f"request headers not received within {self.limits.header_timeout} s")
        elif not self.transport.is_closing():
            self.transport.close()  # nothing was sent: close quietly, as an idle keep-alive

    def _refuse(self, status: int, detail: str) -> None:
        """Answer `status` in the API's JSON shape (unless the app already began an answer) and
        close the connection."""
        self._disarm()
        self._phase = ""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The app is waiting for the rest of the body: it now reads a disconnect, and
            # whatever it answers is dropped, since this one went out instead.
            cycle.scope[CLOSED_BY_SERVER] = status  # type: ignore[literal-required]
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started:
                self.transport.close()
                return
        self._write_json(status, detail, [], close=True)

    def _write_json(
        self,
        status: int,
        detail: str,
        headers: list[tuple[bytes, bytes]],
        close: bool,
        say_close: bool | None = None,
    ) -> None:
        """Write the answer; `close` the connection now, `say_close` in a header (default: the
        same)."""
        if self.transport.is_closing():
            return
        body = json.dumps({"detail": detail}).encode()
        head = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *headers]:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n"
            if (close if say_close is None else say_close)
            else b"\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        if close:
            self.transport.close()


def protocol_class(limits: HttpLimits) -> type[LimitedHttpToolsProtocol]:
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})


def limits_to_env(limits: HttpLimits) -> None:
    os.environ[LIMITS_ENV] = json.dumps(asdict(limits))


def __getattr__(name: str):
    # `uvicorn --workers N` imports the protocol by name in each worker process:
    # "modeldistill.serve.protocol:FromEnv" is the class with the limits the parent set.
    if name == "FromEnv":
        return protocol_class(HttpLimits(**json.loads(os.environ[LIMITS_ENV])))
    raise AttributeError(name)
