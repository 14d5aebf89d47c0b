"""Staging of large data through S3 object storage: the store (objectstore.py), what the handlers call
(external.py: `Staging`), the work of each task kind (upload.py, download.py, given their settings from
transfer.py), the cluster side (commands.py and scripts/, run by runner.py over SSH or as a batch job
built by batch.py, which builds internal transfers' jobs too), and the checks before a task starts (files.py).

The service holds one `ObjectStore` and one `Staging` (`service.staging`); the REST handlers of
storage/xfer-external call `service.staging.start_upload(...)`, `start_download(...)`, `part_urls(...)`,
`complete_upload(...)` and `invalidate(...)`.
"""

from .commands import StagingFailed
from .external import DOWNLOAD, UPLOAD, Staging
from .objectstore import ObjectStore, ObjectStoreUnavailable, plan_parts

__all__ = ["DOWNLOAD", "ObjectStore", "ObjectStoreUnavailable", "Staging", "StagingFailed", "UPLOAD", "plan_parts"]
