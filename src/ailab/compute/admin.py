from django.contrib import admin

from ailab.compute.models import Allocation, Cluster, GpuModel, Job, Node, Usage


@admin.register(GpuModel)
class GpuModelAdmin(admin.ModelAdmin[GpuModel]):
    list_display = ["name", "memory_mb", "tflops_bf16"]


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin[Cluster]):
    list_display = ["name", "backend", "version"]


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin[Node]):
    list_display = ["name", "cluster", "gpus", "gpu_model", "active"]


@admin.register(Allocation)
class AllocationAdmin(admin.ModelAdmin[Allocation]):
    list_display = ["name", "organisation", "cluster", "account", "budget_gpu_seconds", "state"]
    list_filter = ["state", "cluster"]
    readonly_fields = ["budget_gpu_seconds", "state", "notified_80_at", "notified_100_at"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin[Job]):
    list_display = ["id", "name", "user", "allocation", "gpus", "status", "reason"]
    list_filter = ["status", "cluster"]
    readonly_fields = [f.name for f in Job._meta.fields]


@admin.register(Usage)
class UsageAdmin(admin.ModelAdmin[Usage]):
    list_display = ["key", "allocation", "gpu_seconds", "started_at", "ended_at"]
    readonly_fields = [f.name for f in Usage._meta.fields]
