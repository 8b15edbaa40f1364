"""Group commit: one writer thread per API process that takes every request waiting and handles
them together, in one transaction, answering each only once that transaction has committed.

Webhooks arrive in volume, one small thing per request. Handled one by one, each pays for its own
transaction, round trips and flush of the write-ahead log; handed to the writer, the requests that
arrive while it works on a batch form the next one, so batches grow with the load by themselves
and a lone request is handled at once. The tracking intake (services.shipping.PushIntake) and the
channel webhook intake (services.channel_sync.WebhookIntake) are two such writers."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger("ordermesh.group_commit")
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Waiting(Generic[T, R]):
    """A request handed to the writer, and the answer its caller waits for."""

    item: T
    done: Future[R] = field(default_factory=Future)


class GroupWriter(Generic[T, R]):
    """``handle(batch)`` runs on the writer thread with every request waiting (at most
    ``max_batch``) and settles every one's future, with a result or an exception; should it
    raise, every future it left is given that exception."""

    def __init__(self, name: str, handle: Callable[[list[Waiting[T, R]]], None], *, max_batch: int):
        self._name, self._handle, self._max = name, handle, max_batch
        self._queue: queue.SimpleQueue[Waiting[T, R] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, item: T) -> Future[R]:
        """The request, queued for the writer; the future is done once it is handled."""
        waiting: Waiting[T, R] = Waiting(item)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"the {self._name} is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, args=(self._queue,), name=self._name, daemon=True)
                self._thread.start()
            self._queue.put(waiting)
        return waiting.done

    def close(self, timeout: float = 10) -> None:
        """Handle what is waiting, then end the writer; it takes no more requests."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _run(self, waiting: queue.SimpleQueue[Waiting[T, R] | None]) -> None:
        while True:
            first = waiting.get()
            if first is None:
                return
            batch = [first]
            end = False
            while len(batch) < self._max:
                try:
                    more = waiting.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    end = True
                    break
                batch.append(more)
            self._settle(batch)
            if end:
                return

    def _settle(self, batch: list[Waiting[T, R]]) -> None:
        try:
            self._handle(batch)
        except BaseException as e:  # a writer that died would leave every later caller waiting
            log.exception("%s: a batch of %d failed; each request gets the error", self._name, len(batch))
            for w in batch:
                if not w.done.done():
                    w.done.set_exception(e)
            if not isinstance(e, Exception):
                raise
