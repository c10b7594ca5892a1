"""The loaded model behind a bounded admission counter and a micro-batcher."""

import asyncio
import contextlib
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException

from modeldistill.errors import UserError
from modeldistill.inference.classifier import Classifier, Prediction, TextTooLong
from modeldistill.paths import resolve_model_dir
from modeldistill.serve.config import ServeConfig
from modeldistill.serve.metrics import Metrics

log = logging.getLogger(__name__)

# Its Cyrillic "\u0430" and spelt-out "I a m" make a de-obfuscating model load its lookalike table
# and word list now, not on the first client request that needs them.
WARM_UP_TEXT = "warm-up: the model answers before the server says I a m re\u0430dy"


@dataclass
class Job:
    texts: list[str]
    future: asyncio.Future
    deadline: float  # time.monotonic() by which its model call must start, or it is dropped


def busy(detail: str, retry_after: float = 1) -> HTTPException:
    return HTTPException(
        503, detail=detail, headers={"Retry-After": str(max(1, math.ceil(retry_after)))}
    )


class _Expired(Exception):
    """A request's deadline passed before its model call could start."""


class Service:
    """The loaded model, what is admitted (requests and texts), and the batcher that feeds it."""

    def __init__(self, classifier: Classifier, config: ServeConfig, metrics: Metrics):
        self.classifier = classifier
        self.config = config
        self.metrics = metrics
        self.in_flight = 0
        self.queued_texts = 0  # admitted and not yet answered, the one running included
        self.texts_per_second: float | None = None  # measured on recent model calls
        self.ready = False
        self.executor: ThreadPoolExecutor | None = None
        self.queue: asyncio.Queue[Job] | None = None
        self.batcher: asyncio.Task | None = None

    async def start(self) -> None:
        # Made here, not in __init__, so an app can be started again after a stop (tests do).
        # One model call at a time: the model already uses every core within a call.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        if self.config.batching:
            self.queue = asyncio.Queue()  # bounded: only admitted requests enqueue
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

    def expected_wait(self) -> float:
        """Seconds until a request admitted now could start: the texts ahead of it at the
        measured rate."""
        if not self.queued_texts or not self.texts_per_second:
            return 0.0
        return self.queued_texts / self.texts_per_second

    def refusal(self, texts: int = 1) -> HTTPException | None:
        """Why a request of `texts` texts would be refused now (503 + Retry-After), or None: the
        requests or texts admitted are at their limit, or the work ahead of it is estimated to
        take more than half of --max-queue-wait-ms. The other half is margin for the estimate,
        so that admitted requests are seldom dropped at their deadline."""
        config = self.config
        wait = self.expected_wait()
        if self.in_flight >= config.max_in_flight:
            return busy(f"server busy: {self.in_flight} requests in flight; retry shortly")
        if self.queued_texts + texts > config.max_queued_texts:
            return busy(f"server busy: {self.queued_texts} texts queued; retry shortly", 1 + wait)
        if wait * 2000 > config.max_queue_wait_ms:
            return busy(f"server busy: about {wait:.1f} s of work queued; retry shortly", wait)
        return None

    @contextlib.contextmanager
    def admit(self, texts: int = 1):
        """Count a request of `texts` texts in, or raise its `refusal()` at once."""
        refusal = self.refusal(texts)
        if refusal is not None:
            self.metrics.rejected.inc()
            raise refusal
        self.in_flight += 1
        self.queued_texts += texts
        try:
            yield
        finally:
            self.in_flight -= 1
            self.queued_texts -= texts

    async def predict(self, texts: list[str]) -> list[Prediction]:
        """The predictions for `texts`, or 503 when their model call could not start within
        --max-queue-wait-ms of this call."""
        deadline = time.monotonic() + self.config.max_queue_wait_ms / 1000
        if self.queue is None:
            try:
                return await self._run(texts, deadline)
            except _Expired:
                self.metrics.dropped.labels("deadline").inc()
                raise self._too_late() from None
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(Job(texts, future, deadline))
        return await future

    def _too_late(self) -> HTTPException:
        waited = self.config.max_queue_wait_ms / 1000
        return busy(f"server busy: not started within {waited:g} s; retry shortly", waited)

    def _live(self, job: Job) -> bool:
        """Whether a queued job still wants its model call: not if its client went away (its
        future is cancelled) or its deadline passed (it is answered 503 now)."""
        if job.future.done():
            self.metrics.dropped.labels("client_gone").inc()
            return False
        if time.monotonic() > job.deadline:
            self.metrics.dropped.labels("deadline").inc()
            job.future.set_exception(self._too_late())
            return False
        return True

    async def _run(self, texts: list[str], deadline: float | None = None) -> list[Prediction]:
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self._predict, texts, deadline
        )

    def _predict(self, texts: list[str], deadline: float | None) -> list[Prediction]:
        start = time.perf_counter()
        if deadline is not None and time.monotonic() > deadline:
            raise _Expired
        predictions = self.classifier.predict(texts)
        seconds = time.perf_counter() - start
        self.metrics.inference.observe(seconds)
        self.metrics.batch.observe(len(texts))
        rate = len(texts) / max(seconds, 1e-6)
        # Smoothed: one slow call (a long text, a busy core) should not close the doors.
        previous = self.texts_per_second
        self.texts_per_second = rate if previous is None else 0.7 * previous + 0.3 * rate
        return predictions

    async def _next_job(self, timeout: float) -> Job | None:
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
        carried: Job | None = None
        while True:
            job = carried or await self.queue.get()
            carried = None
            if not self._live(job):
                continue
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
                if not self._live(job):
                    continue
                if size + len(job.texts) > self.config.max_batch_size:
                    carried = job
                    break
                batch.append(job)
                size += len(job.texts)
            texts = [text for job in batch for text in job.texts]
            try:
                predictions = await self._run(texts)
            except TextTooLong:
                # One request's text past --max-windows fails the whole call; the others in it
                # must not pay for it, so each request is scored again on its own. A rare cost
                # (that request is refused), bounded by the batch's size.
                await self._run_each(batch)
                continue
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

    async def _run_each(self, batch: list[Job]) -> None:
        for job in batch:
            if job.future.done():
                continue
            try:
                predictions = await self._run(job.texts)
            except Exception as error:  # TextTooLong names the text's index in its own request
                if not job.future.done():
                    job.future.set_exception(error)
                continue
            if not job.future.done():  # its client may have gone while the others ran
                job.future.set_result(predictions)


def calibration(classifier: Classifier) -> dict[str, Any] | None:
    """What makes a score a probability, from the folder's metrics.json: the temperature the
    logits are divided by, the ECE and the reliability table; None without those figures."""
    metrics = classifier.metrics or {}
    ece, bins = metrics.get("ece"), metrics.get("reliability")
    if not isinstance(ece, (int, float)) or not isinstance(bins, list) or not bins:
        return None
    return {
        # Classifiers from before temperature scaling read logits as they are: a temperature of 1.
        "temperature": float(getattr(classifier, "temperature", 1.0)),
        "split": metrics.get("split"),
        "ece": float(ece),
        "ece_uncalibrated": metrics.get("ece_uncalibrated"),
        "reliability": bins,
    }


def load_classifier(config: ServeConfig) -> Classifier:
    """The model named by the config, or a UserError saying what is wrong with it."""
    path = resolve_model_dir(config.model)
    try:
        classifier = Classifier.load(
            path, backend=config.backend, threads=config.threads, max_windows=config.max_windows
        )
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
