"""The user's Slurm accounts (sacctmgr's associations), read without the cluster."""

from __future__ import annotations

import pytest

from firecrest_hub.compute.scheduler import SlurmAccount
from firecrest_hub.compute.slurm_commands import ShowAccounts
from firecrest_hub.errors import SchedulerUnavailable
from firecrest_hub.remote import CommandResult


def answer(stdout: str = "", stderr: str = "", exit_status: int = 0) -> CommandResult:
    return CommandResult(("sacctmgr",), exit_status, stdout, stderr)


def test_the_user_is_one_condition_word_and_the_output_machine_readable():
    argv = ShowAccounts("alice").argv()
    assert argv[:3] == ["sacctmgr", "--noheader", "--parsable2"]
    assert "name=alice" in argv and "format=defaultaccount,account,partition" in argv


def test_the_default_account_comes_first_and_partitions_are_kept():
    output = "proj|chem|\nproj|proj|gpu\nproj|proj|\n"
    assert ShowAccounts("alice").parse(answer(output)) == [
        SlurmAccount("proj", "", True), SlurmAccount("proj", "gpu", True), SlurmAccount("chem", "", False)]


def test_a_user_without_associations_has_no_accounts():
    assert ShowAccounts("alice").parse(answer("")) == []


def test_an_unreachable_database_is_the_schedulers_unavailability():
    with pytest.raises(SchedulerUnavailable):
        ShowAccounts("alice").parse(answer(stderr="sacctmgr: error: slurmdbd: Connection refused\n"
                                           "Problem talking to the database: Connection refused", exit_status=1))
