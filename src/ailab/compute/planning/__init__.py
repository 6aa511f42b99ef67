"""Between the loop and the pure core, in stages (Kueue's shape):

1. ``snapshot``: read the cluster as frozen data, in one short transaction;
2. ``ailab.scheduling.plan()``: decisions as data (pure);
3. ``apply``: write them, guarded by the lease and a version compare-and-set.

``budget`` holds the one headroom rule used by both the planner and the selectors; ``reasons``
turns the planner's typed wait reasons into what a job shows (code and words).
"""
