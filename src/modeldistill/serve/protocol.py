"""HTTP-layer limits that uvicorn does not enforce: header size and count, the time a client may
take to send its headers and its body, the Host header, and how much a pipelining client may
have queued.

uvicorn's httptools protocol (the fast one; h11 is pure Python) accepts headers of any size and
count, waits forever for a request that stops half-way (only idle keep-alive connections time
out), parses every pipelined request it has read however many are waiting for an answer, and
drops the answers still owed when a malformed request follows them. This subclass adds the
missing limits where they belong, in the protocol, before the app sees a request: a request over
a header limit gets 431, one too slow to arrive gets 408, a malformed one (or one with no Host
header, or two) gets 400, each in the API's JSON shape and after the answers owed to the requests
before it, and the connection is closed. Each such refusal is logged in one line and counted in
the app's metrics. Alternatives checked: hypercorn has a header size limit but no header or body
timeout; granian times out headers but not bodies. Both would change the server under a tuned
service for one limit each.
"""

import json
import logging
from dataclasses import dataclass

import httptools
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# Set in the scope of a request whose body timed out, so the metrics say 408, not "client left".
CLOSED_BY_SERVER = "modeldistill.closed_by_server"
# The key, in the app's lifespan state, of its early refusal: a callable (method, raw path) that
# gives (status, detail, headers) for a request to refuse before the app is started, or None.
EARLY_REFUSAL = "modeldistill.early_refusal"
# The key, in the app's lifespan state, of a callable (status) told of every answer the protocol
# gives without the app (400, 408, 431), so that /metrics counts those too.
ON_REFUSAL = "modeldistill.on_refusal"
# A list in each request's scope: what the app wants called if the client disconnects first.
ON_DISCONNECT = "modeldistill.on_disconnect"

log = logging.getLogger("uvicorn.error")  # uvicorn's own log: same level, handler and format

# Bytes handed to the parser at once. httptools parses all it is given in one call, and a 256 KiB
# read of a pipelining client can hold thousands of tiny requests; in pieces this small the
# queue limit is checked every few dozen requests. A body of known length goes in one piece.
FEED_PIECE = 4096
CHUNKED_PIECE = 65536  # a chunked body's length is unknown: bigger pieces, fewer copies of it


@dataclass(frozen=True)
class HttpLimits:
    max_header_bytes: int = 16 * 1024  # request line and headers together (Node.js: 16 KiB)
    max_headers: int = 100  # header lines (Apache's LimitRequestFields)
    header_timeout: float = 10.0  # from the first byte (or the connection) to the blank line
    body_timeout: float = 20.0  # from the end of the headers to the end of the body
    # Pipelined requests parsed and waiting for the one before them to be answered; past it the
    # connection is not read until the client takes its answers.
    max_pipelined: int = 16
    # Answers written and not yet taken by the client (asyncio's write buffer); past it the
    # answer being sent waits, so no further request is started.
    max_unread_response_bytes: int = 256 * 1024


class _Refused(Exception):
    """Raised in a parser callback; httptools stops parsing, and the request is answered with
    this status instead of uvicorn's plain-text 400."""

    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


class _HeldFlow(FlowControl):
    """uvicorn resumes reading whenever an answer is done or the app asks for a body; while the
    protocol still holds bytes it has read and not parsed, reading stays paused, or a client that
    pipelines and never reads its answers would have its requests read into memory without end."""

    def __init__(self, transport, protocol: "LimitedHttpToolsProtocol"):
        super().__init__(transport)
        self.protocol = protocol

    def resume_reading(self) -> None:
        if not self.protocol._holding():
            super().resume_reading()


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits = HttpLimits()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._timer = None
        self._phase = "headers"  # "headers", "body" or "" (a request is with the app, or idle)
        self._raw_header_bytes = 0
        self._header_bytes = 0
        self._header_count = 0
        self._host_count = 0
        self._body_left = 0  # of a body of known length; -1 while a chunked body is read
        self._refused: _Refused | None = None
        self._answered_early = False  # this request was refused without the app; skip its body
        self._close_after_body = False
        self._backlog = b""  # read from the socket and not yet parsed
        self._offset = 0  # how much of the backlog has been parsed
        self._running = None  # the request the app is answering (uvicorn's `cycle` is the last)
        self._deferred: _Refused | None = None  # to answer once the requests before it are
        super().connection_made(transport)
        self.flow = _HeldFlow(transport, self)
        transport.set_write_buffer_limits(high=self.limits.max_unread_response_bytes)
        # A connection that never sends a byte holds a socket too.
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._backlog = b""
        cycle = self.cycle
        super().connection_lost(exc)
        if cycle is not None and not cycle.response_complete:
            for callback in list(cycle.scope.get(ON_DISCONNECT, ())):
                callback()

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._deferred is not None or self.parser is None:
            return  # a refusal is waiting for earlier answers: what follows it is never parsed
        if self._holding():
            self._backlog = self._backlog[self._offset :] + data
        else:
            self._backlog = data
        self._offset = 0
        self._feed()

    def _feed(self) -> None:
        """Parse the backlog in pieces until it is done or the pipeline is full. While anything is
        left the connection is not read, so the backlog is at most one read."""
        backlog = self._backlog
        while self._offset < len(backlog):
            if len(self.pipeline) >= self.limits.max_pipelined:
                break
            if self._phase == "body" and self._body_left > 0:
                size = max(FEED_PIECE, self._body_left)
            else:
                size = CHUNKED_PIECE if self._phase == "body" else FEED_PIECE
            piece = backlog[self._offset : self._offset + size]
            self._offset += len(piece)
            if self._phase != "body":
                # Counted before parsing: httptools buffers a header until its end, so a 100 MB
                # header would be held in memory before on_header could look at its size.
                self._raw_header_bytes += len(piece)
            try:
                self.parser.feed_data(piece)
            except httptools.HttpParserUpgrade:
                self._backlog, self._offset = b"", 0
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            except httptools.HttpParserError as error:
                refused = self._refused or _Refused(400, f"malformed HTTP request: {error}")
                self._refuse(refused.status, refused.detail)
                return
            if self._phase == "headers" and self._raw_header_bytes > self.limits.max_header_bytes:
                size = self.limits.max_header_bytes
                self._refuse(431, f"request headers larger than {size} bytes")
                return
            if self.transport.is_closing() or self._deferred is not None:
                return
        if self._offset < len(backlog):
            self.flow.pause_reading()  # resumed when the app takes an answer (or reads a body)
        else:
            self._backlog, self._offset = b"", 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope[ON_DISCONNECT] = []  # type: ignore[literal-required]
        self._phase = "headers"
        self._header_bytes = self._header_count = self._host_count = 0
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
        if self.headers[-1][0] == b"host":  # uvicorn has lower-cased the name
            self._host_count += 1

    def send_400_response(self, msg: str) -> None:
        # Only uvicorn's own data_received calls this; kept so that any 400 is in the JSON shape.
        refused = self._refused or _Refused(400, msg)
        self._refuse(refused.status, refused.detail)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._raw_header_bytes = 0
        if self._host_count > 1:
            # Which one would the Host check and the app read? RFC 9112 section 3.2: 400.
            self._refused = _Refused(400, "more than one Host header")
            raise self._refused
        if self._host_count == 0 and self.parser.get_http_version() == "1.1":
            self._refused = _Refused(400, "HTTP/1.1 request without a Host header")
            raise self._refused
        headers = dict(self.headers)
        if b"transfer-encoding" in headers:
            self._body_left = -1
        else:
            length = headers.get(b"content-length", b"0")
            self._body_left = int(length) if length.isdigit() else 0
        self._phase = "body" if self._body_left else ""
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

    def _start_asgi_task(self, cycle, app) -> None:  # type: ignore[override]
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        if self._body_left > 0:
            self._body_left -= len(body)
        if not self._answered_early:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._phase = ""
        self._body_left = 0
        if self._answered_early:
            self._answered_early = False
            if self._close_after_body:
                self.transport.close()
            elif not self.transport.is_closing():
                self._idle()
            return
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # starts the next pipelined request; resumes reading
        if self.transport.is_closing():
            return
        if self._deferred is not None:
            if not self._owes_answers():
                self._unset_keepalive_if_required()
                self._answer(self._deferred.status, self._deferred.detail)
        elif self._holding():
            self._feed()
            self.flow.resume_reading()  # refused above while the backlog was held

    def _holding(self) -> bool:
        return self._offset < len(self._backlog)

    def _owes_answers(self) -> bool:
        """Requests before the one being parsed are still to be answered."""
        running = self._running
        return bool(self.pipeline) or (running is not None and not running.response_complete)

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
        if self.flow.read_paused:
            # The rest of this request may be here (held, or in the socket buffer), waiting for
            # the answers before it to be taken: the delay is the server's, not the client's.
            self._arm(
                self.limits.body_timeout if self._phase == "body" else self.limits.header_timeout
            )
        elif self._answered_early:  # answered already: only the rest of its body is missing
            self.transport.close()
        elif self._phase == "body":
            self._refuse(408, f"request body not received within {self.limits.body_timeout} s")
        elif self._raw_header_bytes:
            self._refuse(408, f"request headers not received within {self.limits.header_timeout} s")
        elif not self.transport.is_closing():
            self.transport.close()  # nothing was sent: close quietly, as an idle keep-alive

    def _refuse(self, status: int, detail: str) -> None:
        """Answer `status` in the API's JSON shape and close the connection: at once when the
        request refused is the one the app is answering (unless the app began an answer), else
        after the answers owed to the requests before it."""
        self._disarm()
        in_body = self._phase == "body"
        self._phase = ""
        self._backlog, self._offset = b"", 0
        if self._answered_early:  # answered 503 already; its body broke off or went bad
            self.transport.close()
            return
        cycle = self.cycle
        if in_body and cycle is not None and cycle.response_complete:
            # Answered already (a 415, say) before its body arrived: what is missing is only
            # the rest of a body nobody will read. A second answer would confuse the client.
            self.transport.close()
            return
        if in_body and cycle is not None:
            if self.pipeline and self.pipeline[0][0] is cycle:
                self.pipeline.popleft()  # queued, never started: only this answer is owed for it
            elif not cycle.response_complete:
                # The app is waiting for the rest of the body: it now reads a disconnect, and
                # whatever it answers is dropped, since this one went out instead. The app's
                # middleware counts it, under its route.
                self._log(status, detail)
                cycle.scope[CLOSED_BY_SERVER] = status  # type: ignore[literal-required]
                cycle.disconnected = True
                cycle.message_event.set()
                if cycle.response_started:
                    self.transport.close()
                else:
                    self._write_json(status, detail, [], close=True)
                return
        if self._owes_answers():
            self._deferred = _Refused(status, detail)
            self.flow.pause_reading()
            return
        self._answer(status, detail)

    def _answer(self, status: int, detail: str) -> None:
        """A refusal of a request the app never saw: logged, counted, sent, closed."""
        self._log(status, detail)
        count = self.app_state.get(ON_REFUSAL)
        if count is not None:
            count(status)
        self._write_json(status, detail, [], close=True)

    def _log(self, status: int, detail: str) -> None:
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "client"
        log.warning("%s - refused with %d: %s", client, status, detail)

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
