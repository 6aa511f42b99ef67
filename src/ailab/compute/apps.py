from django.apps import AppConfig


class ComputeConfig(AppConfig):
    name = "ailab.compute"
    label = "compute"
    verbose_name = "Compute"

    def ready(self) -> None:
        # Allocation changes reach Slurm's accounts after commit; a no-op for local clusters.
        from ailab.compute.slurm_sync import register_hooks

        register_hooks()
