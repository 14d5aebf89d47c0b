"""Unit tests of the configuration: every bound is enforced, systems are checked at start, no option is inert."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from firecrest_hub.app import FirecrestService
from firecrest_hub.compute import SlurmScheduler
from firecrest_hub.compute.cache import JobStateCache
from firecrest_hub.config import Systems
from firecrest_hub.delegation import CertificateAuthority
from firecrest_hub.jobs import JobEventPublisher, JobTasks
from firecrest_hub.remote import ConnectionPool
from firecrest_hub.status import StatusProbes
from firecrest_hub.tasks.events import EventHub
from firecrest_hub.tasks.runner import TaskRunner
from firecrest_hub.tasks.store import TaskStore

# (class, option, the smallest value it takes, a value beyond its bounds)
BOUNDS = [
    (JobStateCache, "interval", 0.1, 0),
    (JobStateCache, "stale_tolerance", 1, 0.5),
    (SlurmScheduler, "command_timeout", 1, 0),
    (SlurmScheduler, "accounting_timeout", 1, -1),
    (ConnectionPool, "max_channels", 2, 1),
    (ConnectionPool, "connect_timeout", 1, 0),
    (ConnectionPool, "keepalive_interval", 0, -1),
    (ConnectionPool, "idle_timeout", 1, 0),
    (ConnectionPool, "max_age", 1, 0),
    (ConnectionPool, "command_timeout", 1, 0),
    (ConnectionPool, "output_limit", 1, 0),
    (ConnectionPool, "ciphers", ["aes128-ctr"], []),
    (CertificateAuthority, "certificate_lifetime", 30, 29),
    (CertificateAuthority, "certificate_lifetime", 3600, 86400),
    (CertificateAuthority, "renew_before", 0, -1),
    (TaskRunner, "max_run_time", 0.1, 0),
    (TaskRunner, "lease", 0.1, -5),
    (TaskStore, "threads", 1, 0),
    (TaskStore, "retention", 0.01, 0),
    (EventHub, "queue_size", 1, 0),
    (EventHub, "max_streams_per_user", 1, 0),
    (EventHub, "heartbeat_interval", 0.1, 0),
    (EventHub, "store_poll_interval", 0, -1),
    (EventHub, "max_stream_duration", 1, 0),
    (StatusProbes, "interval", 1, 0),
    (StatusProbes, "timeout", 1, -1),
    (JobEventPublisher, "check_interval", 0.05, 0),
    (JobTasks, "output_tail_bytes", 0, -1),
    (JobTasks, "submission_settle_time", 0, -1),
    (FirecrestService, "max_file_size", 1, 0),
    (FirecrestService, "max_listing_entries", 1, 0),
]


def bare(cls):
    """An instance with its traits set up and nothing else (the constructors want live collaborators)."""
    return cls.__new__(cls)


@pytest.mark.parametrize("cls, name, smallest, beyond", BOUNDS,
                         ids=[f"{cls.__name__}.{name}={beyond}" for cls, name, _, beyond in BOUNDS])
def test_values_beyond_the_bounds_are_refused(cls, name, smallest, beyond):
    instance = bare(cls)
    with pytest.raises(TraitError, match=name):
        setattr(instance, name, beyond)
    setattr(instance, name, smallest)
    assert getattr(instance, name) == smallest


def test_a_bound_holds_for_values_from_the_config_file_too():
    config = Config({"JobStateCache": {"interval": 0}})
    with pytest.raises(TraitError, match="interval"):
        JobStateCache(lambda: None, config=config)


def test_slurm_commands_have_the_pools_command_timeout_unless_set_apart():
    pool = ConnectionPool(None, command_timeout=45)
    assert SlurmScheduler(pool).command_timeout == 45
    assert SlurmScheduler(pool, config=Config({"SlurmScheduler": {"command_timeout": 90}})).command_timeout == 90
    assert ConnectionPool(None).command_timeout == SlurmScheduler(ConnectionPool(None)).command_timeout == 30


@pytest.fixture
def known_hosts(tmp_path):
    path = tmp_path / "known_hosts"
    path.write_text("[login.example.org]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample\n")
    return str(path)


def system(**overrides) -> dict:
    return {"name": "daint", "host": "login.example.org", "filesystems": ["/home"], **overrides}


def test_a_system_with_its_known_hosts_and_a_port_is_accepted(known_hosts):
    systems = Systems(systems=[system(known_hosts=known_hosts, port=65535),
                               system(name="eiger", known_hosts=known_hosts)])
    assert [(s.name, s.port) for s in systems.all()] == [("daint", 65535), ("eiger", 22)]


def test_a_missing_known_hosts_file_stops_the_start(tmp_path):
    with pytest.raises(TraitError, match=r"system 'daint': known_hosts '.*absent' is not a file"):
        Systems(systems=[system(known_hosts=str(tmp_path / "absent"))])
    with pytest.raises(TraitError, match="is not a file"):
        Systems(systems=[system(known_hosts=str(tmp_path))])  # a directory


@pytest.mark.parametrize("port", [0, -22, 65536, "22", 22.0, True, None])
def test_a_port_that_is_no_tcp_port_is_refused_naming_the_system(known_hosts, port):
    with pytest.raises(TraitError, match=r"system 'daint': port .* is not a TCP port \(an integer 1-65535\)"):
        Systems(systems=[system(known_hosts=known_hosts, port=port)])


def test_a_bad_system_in_the_config_file_stops_the_start(tmp_path):
    config = Config({"Systems": {"systems": [system(known_hosts=str(tmp_path / "absent"))]}})
    with pytest.raises(TraitError, match="system 'daint'"):
        Systems(config=config)

