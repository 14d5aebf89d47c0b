"""The JupyterHub spawner of firecrest-hub: notebooks as Slurm jobs (entry point `firecrest`)."""

from .spawner import FirecrestSpawner

__all__ = ["FirecrestSpawner"]
