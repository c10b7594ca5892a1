"""The loaded model behind a bounded admission counter and a micro-batcher."""

import asyncio
import contextlib
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fastapi import HTTPException

from modeldistill.errors import UserError
from modeldistill.inference import Classifier, Prediction
from modeldistill.paths import resolve_model_dir
from modeldistill.serve.config import ServeConfig
from modeldistill.serve.metrics import Metrics

log = logging.getLogger(__name__)

WARM_UP_TEXT = "warm-up: the model answers before the server says it is ready"


@dataclass
class Job:
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
        self.queue: asyncio.Queue[Job] | None = None
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
        self.queue.put_nowait(Job(texts, future))
        return await future

    async def _run(self, texts: list[str]) -> list[Prediction]:
        return await asyncio.get_running_loop().run_in_executor(self.executor, self._predict, texts)

    def _predict(self, texts: list[str]) -> list[Prediction]:
        start = time.perf_counter()
        predictions = self.classifier.predict(texts)
        self.metrics.inference.observe(time.perf_counter() - start)
        self.metrics.batch.observe(len(texts))
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
