"""Short-lived SSH user certificates, signed in-process by the deployment's user CA.

The cluster's sshd trusts the CA (`TrustedUserCAKeys`), so a certificate whose only principal is an
account lets the service act as exactly that account, for a few minutes, with a key that never leaves
memory.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass

import asyncssh
from traitlets import Float, Unicode, TraitError, validate
from traitlets.config import Configurable

# Clocks on login nodes drift; a certificate valid from a little before now survives that.
CLOCK_SKEW = 30


@dataclass(frozen=True)
class Credential:
    key: asyncssh.SSHKey
    certificate: asyncssh.SSHCertificate
    expires_at: float

    @property
    def client_keys(self):
        return [(self.key, self.certificate)]


def check_key_file(path: str) -> None:
    """Refuse a CA key that anyone but its owner can read: whoever reads it can become every user."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        raise TraitError(f"SSH CA key {path!r} cannot be read: {error.strerror}") from error
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TraitError(f"SSH CA key {path!r} has mode {stat.S_IMODE(mode):04o}; it must be 0400 or 0600")


class CertificateAuthority(Configurable):
    """Signs per-account certificates and keeps each until shortly before it expires."""

    ca_key_file = Unicode(
        help="Private ed25519 user-CA key (mode 0400) that the clusters' sshd trusts.",
    ).tag(config=True)

    certificate_lifetime = Float(
        300,
        min=30,
        max=3600,
        help="""Seconds a certificate is valid, from 30 to 3600. Short by design: a leaked one is soon
        worthless.""",
    ).tag(config=True)

    renew_before = Float(
        60,
        min=0,
        help="""Seconds before expiry at which a cached certificate is replaced by a fresh one; shorter
        than certificate_lifetime.""",
    ).tag(config=True)

    @validate("ca_key_file")
    def _validate_key_file(self, proposal):
        check_key_file(proposal["value"])
        return proposal["value"]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not self.ca_key_file:
            raise TraitError("CertificateAuthority.ca_key_file is not configured")
        if self.renew_before >= self.certificate_lifetime:
            raise TraitError("CertificateAuthority.renew_before must be shorter than certificate_lifetime")
        self._ca_key = asyncssh.read_private_key(self.ca_key_file)
        self._cache: dict[tuple[str, str], Credential] = {}

    def credential(self, account: str, hub_user: str) -> Credential:
        """A certificate for `account`, whose key id names the hub user it acts for."""
        cached = self._cache.get((account, hub_user))
        if cached and cached.expires_at - self.renew_before > time.time():
            return cached
        credential = self.sign(account, hub_user, self.certificate_lifetime)
        self._cache[(account, hub_user)] = credential
        return credential

    def sign(self, account: str, hub_user: str, lifetime: float, *, not_before: float | None = None) -> Credential:
        now = time.time() if not_before is None else not_before
        key = asyncssh.generate_private_key("ssh-ed25519")
        expires_at = now + lifetime
        certificate = self._ca_key.generate_user_certificate(
            key,
            key_id=f"firecrest-hub:{hub_user}",
            principals=[account],
            valid_after=int(now - CLOCK_SKEW),
            valid_before=int(expires_at),
            permit_x11_forwarding=False,
            permit_agent_forwarding=False,
            permit_port_forwarding=False,
            permit_pty=False,
            permit_user_rc=False,
        )
        return Credential(key, certificate, expires_at)
