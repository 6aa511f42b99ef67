"""Background tasks (Django's Tasks API through the ``django-tasks`` backport, its database
backend): how ailab enqueues them, makes them idempotent, retries them and recovers the ones
a dead worker left behind. ``ailab worker`` runs them beside the scheduler loop.

- ``enqueue_after_commit(task, key=..., ...)``: enqueue once the current transaction commits
  (at once outside one); every ailab task takes an idempotency ``key``.
- ``once(key)``: a task body runs its work only if no task with that key finished it before;
  the key is recorded in the same transaction as the work's database writes.
- ``retrying``: a failing task enqueues itself again (same key, ``attempt + 1``) up to
  ``MAX_ATTEMPTS``; each failure stays visible to staff as a failed result (the admin).
- ``tasks_recover()``: a task left RUNNING by a worker that was killed is run again, once;
  if the worker running it is killed again, it is failed, not retried forever.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from django.db import connection, transaction
from django.utils import timezone

from ailab.common.models import TaskDone
from ailab.common.transitions import Transitions, transition_write

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RERUNS_AFTER_A_DEAD_WORKER = 1
P = ParamSpec("P")
R = TypeVar("R")

# A task result's states as this module moves them (django-tasks-db moves the others).
TASK_TRANSITIONS = Transitions(
    "task",
    {"READY": {"RUNNING"}, "RUNNING": {"READY", "FAILED", "SUCCESSFUL"}},
)


def enqueue_after_commit(task: Any, *args: Any, key: str, **kwargs: Any) -> None:
    """Enqueue ``task`` with its idempotency ``key`` after the current transaction commits."""
    transaction.on_commit(lambda: task.enqueue(*args, key=key, **kwargs))


@contextlib.contextmanager
def once(key: str) -> Iterator[bool]:
    """``with once(key) as first:`` — ``first`` is False if a task finished this key before;
    the key is recorded with the block's writes (one transaction), so a rerun skips it."""
    with transaction.atomic():
        done = TaskDone.objects.select_for_update().filter(key=key).exists()
        yield not done
        if not done:
            TaskDone.objects.create(key=key)


def retrying(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a task body taking ``key`` and ``attempt``: on an exception, enqueue the task
    again with ``attempt + 1`` (up to ``MAX_ATTEMPTS``), then let the exception fail this
    run (so staff see it)."""

    @functools.wraps(fn)
    def body(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Exception:
            attempt = int(kwargs.get("attempt", 1))  # type: ignore[call-overload]
            if attempt < MAX_ATTEMPTS:
                again = {**kwargs, "attempt": attempt + 1}
                log.warning("task %s failed (attempt %s); retrying", fn.__name__, attempt)
                _registered[fn.__name__].enqueue(*args, **again)
            raise

    return body


_registered: dict[str, Any] = {}


def register(task: Any) -> Any:
    """Remember a task by its function's name, so ``retrying`` can enqueue it again."""
    _registered[task.func.__name__] = task
    return task


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _alive(worker: str) -> bool:
    """Whether the worker that claimed a task still runs (known for workers on this host;
    elsewhere the task's age decides, see ``tasks_recover``)."""
    host, _, rest = worker.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:40] or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tasks_recover(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Tasks a dead worker left RUNNING: requeue each once; fail one whose second worker
    died too. Returns (requeued, failed)."""
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=int(os.environ.get("AILAB_TASK_STALE_S", "3600")))
    requeued = failed = 0
    for result in DBTaskResult.objects.filter(status="RUNNING"):
        workers = list(result.worker_ids or [])
        dead = not workers or not _alive(workers[-1])
        if not dead and not (result.started_at and result.started_at < stale):
            continue
        if len(workers) > RERUNS_AFTER_A_DEAD_WORKER:
            failed += transition_write(
                TASK_TRANSITIONS,
                result,
                to="FAILED",
                expect="RUNNING",
                finished_at=now,
                exception_class_path="ailab.common.tasks.WorkerDied",
                traceback=f"the workers running it died: {', '.join(workers)}",
            )
        else:
            requeued += transition_write(
                TASK_TRANSITIONS, result, to="READY", expect="RUNNING", started_at=None
            )
    return requeued, failed


def tasks_run_ready(*, interval: float = 1.0, stop: threading.Event | None = None) -> None:
    """Run tasks as they come until ``stop`` is set; with no ``stop``, run those ready now
    and return (``ailab worker --once``)."""
    from django_tasks_db.management.commands.db_worker import Worker

    requeued, failed = tasks_recover()
    if requeued or failed:
        log.warning("tasks of dead workers: %s requeued, %s failed", requeued, failed)
    worker = Worker(
        queue_names=["*"],
        interval=interval,
        batch=stop is None,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id(),
        excluded_queue_names=[],
    )
    if stop is not None:

        def stopper() -> None:
            stop.wait()
            worker.running = False

        threading.Thread(target=stopper, daemon=True).start()
    try:
        worker.run()
    finally:
        connection.close()  # this thread's connection


@contextlib.contextmanager
def tasks_beside(*, once: bool = False, interval: float = 0.5) -> Iterator[None]:
    """Run the task worker in a thread while the block runs (the scheduler loop), or, with
    ``once``, run the ready tasks after it."""
    if _immediate():
        yield
        return
    if once:
        yield
        tasks_run_ready()
        return
    stop = threading.Event()
    thread = threading.Thread(
        target=tasks_run_ready, kwargs={"interval": interval, "stop": stop}, daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def _immediate() -> bool:
    from django.conf import settings

    return "immediate" in settings.TASKS["default"]["BACKEND"].lower()
