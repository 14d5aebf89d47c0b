"""The service's log lines hold no credential."""

import logging

from firecrest_hub.logs import keep_credentials_out_of_debug_logs, without_credentials


def test_credentials_in_the_query_are_masked_and_the_rest_kept():
    masked = without_credentials("/api/v1/utilities/ls?targetPath=/home/alice&token=abc123&X-Amz-Signature=f00")
    assert "abc123" not in masked and "f00" not in masked
    assert masked == "/api/v1/utilities/ls?targetPath=%2Fhome%2Falice&token=%5Bhidden%5D&X-Amz-Signature=%5Bhidden%5D"
    assert without_credentials("/api/v1/status/systems") == "/api/v1/status/systems"


def test_libraries_that_log_signatures_stay_at_info_when_the_service_debugs():
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        keep_credentials_out_of_debug_logs()
        assert not logging.getLogger("botocore.auth").isEnabledFor(logging.DEBUG)
        assert not logging.getLogger("aiobotocore").isEnabledFor(logging.DEBUG)
    finally:
        logging.getLogger().setLevel(logging.WARNING)


async def test_a_refused_oauth_callback_is_logged_without_its_code(api, caplog):
    """tornado's warning about a failed request names the URI: its code and state are masked there too."""
    with caplog.at_level(logging.WARNING):
        response = await api.fetch("GET", "../oauth_callback?code=secret-code-123&state=secret-state-456", machine=None)
    assert response.code >= 400
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "oauth_callback?code=%5Bhidden%5D" in logged
    assert "secret-code-123" not in logged and "secret-state-456" not in logged
