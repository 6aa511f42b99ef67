from __future__ import annotations

from django.db import models


class TimeStampedModel(models.Model):
    """Base model: creation and modification times (aware UTC)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class TaskDone(models.Model):
    """A background task's idempotency key, recorded when its work is done: a retried or
    rerun task with the same key does nothing (``ailab.common.tasks.once``)."""

    key = models.CharField(max_length=200, unique=True)
    done_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
