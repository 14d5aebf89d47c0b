"""Staging of large data through S3 object storage: the store (objectstore.py), the cluster-side commands
(commands.py, cluster.py), the checks before a task starts (files.py), and the tasks (workflows.py, with
the work of each kind in upload.py and download.py).

The service holds one `ObjectStore` and one `Staging` (`service.staging`); the REST handlers of
storage/xfer-external call `service.staging.start_upload(...)`, `start_download(...)`, `part_urls(...)`,
`complete_upload(...)` and `invalidate(...)`.
"""

from .commands import StagingFailed
from .objectstore import ObjectStore, ObjectStoreUnavailable, plan_parts
from .workflows import DOWNLOAD, UPLOAD, Staging

__all__ = ["DOWNLOAD", "ObjectStore", "ObjectStoreUnavailable", "Staging", "StagingFailed", "UPLOAD", "plan_parts"]
