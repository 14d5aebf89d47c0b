"""firecrest-hub: a JupyterHub-integrated HPC portal and FirecREST-compatible REST API."""

__version__ = "0.1.0"
