"""Compute's background tasks: what used to run inside a web request or the loop's pass.

- ``hooks.allocation_changed_task``: the allocation-changed hooks (the Slurm account sync
  runs ``sacctmgr``, 1-2 s), after the change commits, in ``ailab worker``;
- ``accounting_import_task``: charge what a backend that accounts for itself (Slurm) ran.

Both are idempotent by key (the sync converges on the allocation's current state; charges are
keyed per run) and retried on failure.
"""

from __future__ import annotations

import importlib
import logging

from django_tasks import task

from ailab.common.tasks import once, register, retrying
from ailab.compute.models import Cluster

log = logging.getLogger(__name__)

# Backends that account for themselves (Capability.ACCOUNTING): their importer, by name.
ACCOUNTING_IMPORTERS = {"slurm": "ailab.compute.slurm_accounting:slurm_accounting_import"}


@register
@task()
@retrying
def accounting_import_task(*, cluster_id: int, key: str, attempt: int = 1) -> bool:
    """Import the cluster's accounting; usage keys make a rerun charge nothing twice."""
    cluster = Cluster.objects.get(pk=cluster_id)
    importer_path = ACCOUNTING_IMPORTERS.get(cluster.backend)
    if importer_path is None:
        return False
    module_name, _, attr = importer_path.partition(":")
    importer = getattr(importlib.import_module(module_name), attr)
    with once(key) as first:
        if first:
            importer(cluster=cluster)
        return first
