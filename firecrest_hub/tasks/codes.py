"""FirecREST v1's task status codes and their descriptions, as clients (pyfirecrest) read them.

Codes are strings on the wire. 110-115 follow an upload (client -> object storage -> system), 116-118 a
download (system -> object storage -> client).
"""

QUEUED = "100"
IN_PROGRESS = "101"
FINISHED = "200"
DELETED = "300"
EXPIRED = "301"
INVALID = "302"
FAILED = "400"

UPLOAD_URL_WAITING = "110"
UPLOAD_URL_RECEIVED = "111"
UPLOAD_CONFIRMED = "112"
UPLOAD_TRANSFER_STARTED = "113"
UPLOAD_TRANSFER_FINISHED = "114"
UPLOAD_TRANSFER_FAILED = "115"

DOWNLOAD_STARTED = "116"
DOWNLOAD_FINISHED = "117"
DOWNLOAD_FAILED = "118"

DESCRIPTIONS = {
    QUEUED: "Queued",
    IN_PROGRESS: "In progress",
    FINISHED: "Finished successfully",
    DELETED: "Deleted on request",
    EXPIRED: "Marked for expiration in persistence",
    INVALID: "Task not longer valid",
    FAILED: "Finished with errors",
    UPLOAD_URL_WAITING: "Waiting for Form URL from Object Storage to be retrieved",
    UPLOAD_URL_RECEIVED: "Form URL from Object Storage received",
    UPLOAD_CONFIRMED: "Object Storage confirms that upload to Object Storage has finished",
    UPLOAD_TRANSFER_STARTED: "Download from Object Storage to server has started",
    UPLOAD_TRANSFER_FINISHED: "Download from Object Storage to server has finished",
    UPLOAD_TRANSFER_FAILED: "Download from Object Storage error",
    DOWNLOAD_STARTED: "Started upload from filesystem to Object Storage",
    DOWNLOAD_FINISHED: "Upload from filesystem to Object Storage has finished succesfully",
    DOWNLOAD_FAILED: "Upload from filesystem to Object Storage has finished with errors",
}

# Clients stop polling at these (pyfirecrest: 200/400 for compute, 114/115 upload, 117/118 download).
FINAL = frozenset({
    FINISHED, DELETED, EXPIRED, INVALID, FAILED,
    UPLOAD_TRANSFER_FINISHED, UPLOAD_TRANSFER_FAILED, DOWNLOAD_FINISHED, DOWNLOAD_FAILED,
})
SUCCESS = frozenset({FINISHED, UPLOAD_TRANSFER_FINISHED, DOWNLOAD_FINISHED})
FAILURE = frozenset({FAILED, UPLOAD_TRANSFER_FAILED, DOWNLOAD_FAILED})
# What a running task may report on its way to its final code.
PROGRESS = frozenset(DESCRIPTIONS) - FINAL - {QUEUED}
