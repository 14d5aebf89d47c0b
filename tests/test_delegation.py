"""Unit tests of the user CA: key-file policy and the certificates it signs."""

import os
import re
import subprocess
import time

import asyncssh
import pytest
from traitlets import TraitError

from firecrest_hub.delegation import CertificateAuthority


@pytest.fixture
def ca_key(tmp_path):
    path = tmp_path / "user_ca"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(path))
    os.chmod(path, 0o400)
    return path


def test_refuses_a_key_readable_by_others(ca_key):
    os.chmod(ca_key, 0o644)
    with pytest.raises(TraitError, match="mode 0644"):
        CertificateAuthority(ca_key_file=str(ca_key))


def test_refuses_a_missing_key(tmp_path):
    with pytest.raises(TraitError, match="cannot be read"):
        CertificateAuthority(ca_key_file=str(tmp_path / "absent"))


def test_refuses_long_lifetimes(ca_key):
    with pytest.raises(TraitError, match="certificate_lifetime.* should not be greater than 3600"):
        CertificateAuthority(ca_key_file=str(ca_key), certificate_lifetime=86400)


def test_certificate_names_the_account_and_the_hub_user(ca_key, tmp_path):
    authority = CertificateAuthority(ca_key_file=str(ca_key))
    credential = authority.credential("alice", "alice@hub")
    credential.certificate.write_certificate(str(tmp_path / "cert.pub"))
    shown = subprocess.run(["ssh-keygen", "-L", "-f", str(tmp_path / "cert.pub")],
                           capture_output=True, text=True, check=True).stdout
    assert 'Key ID: "firecrest-hub:alice@hub"' in shown
    assert re.search(r"Principals:\s+alice\s+Critical", shown)
    assert "permit-pty" not in shown and "permit-port-forwarding" not in shown
    assert credential.expires_at - time.time() <= 300


def test_certificates_are_cached_until_shortly_before_expiry(ca_key):
    authority = CertificateAuthority(ca_key_file=str(ca_key), certificate_lifetime=60, renew_before=20)
    first = authority.credential("alice", "alice")
    assert authority.credential("alice", "alice") is first
    assert authority.credential("bob", "bob") is not first
    authority._cache[("alice", "alice")] = type(first)(first.key, first.certificate, time.time() + 10)
    assert authority.credential("alice", "alice").expires_at > time.time() + 50
