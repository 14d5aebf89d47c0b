"""Status: health checks of the systems and of the service's dependencies, kept fresh in the background.

The service holds one `StatusProbes` as `service.health`; the status endpoints read
`service.health.report()`, which never waits for a check (see monitor.py).
"""

from .monitor import SERVICES, HealthReport, StatusProbes
from .probes import FilesystemHealth, Health, SystemHealth

__all__ = ["SERVICES", "FilesystemHealth", "Health", "HealthReport", "StatusProbes", "SystemHealth"]
