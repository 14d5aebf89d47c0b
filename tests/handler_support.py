"""The REST handlers without the cluster: the service's real Application and routes, served in-process, with
a stand-in for the hub (a table of tokens) and for the systems (a session that replays recorded output).

    async with serve_api(tmp_path) as api:          # tests get it as the `api` fixture (conftest.py)
        api.replay.answer(["sha256sum"], stdout="abc  /home/alice/x\\n")
        response = await api.fetch("GET", "utilities/checksum", "alice-token", params={"targetPath": "/home/alice/x"})
        assert api.replay.ran_as("alice") == [...]    # every command (argv) and SFTP request, in order

What is real: FirecrestService.initialize (Access with its account policy, Tasks with a SQLite store in
tmp_path, JobTasks, Staging...), every handler, HubOAuth's reading of the Authorization header, the error
writer. What stands in: the hub's answer about a token (TOKENS), and `ConnectionPool.session`, which hands
out a ReplaySession: commands get the recorded CommandResult of the first matching argv pattern (or raise
the recorded error, as the pool does on a timeout, an output cap or a lost connection), and SFTP requests
go to FakeSFTP, a small in-memory tree (realpath, stat/lstat, scandir, readlink, mkdir, open, rename,
remove). SFTP requests that FakeSFTP lacks (symlink, chmod, setstat...) fail the test loudly, so
utilities/symlink and utilities/chmod with an octal mode are covered only up to their checks of paths and
arguments (which run before any SFTP request).
Nothing is started in the background: no health checks, job-event publisher, job-state cache or staging
work, so status, staging and job results are left to the tests against the real cluster.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import posixpath
import stat
from dataclasses import dataclass, field
from unittest import mock
from urllib.parse import urlencode

import asyncssh
from tornado.httpclient import AsyncHTTPClient, HTTPResponse
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port
from tornado.web import HTTPError
from traitlets.config import Config

from firecrest_hub import app
from firecrest_hub.remote import CommandResult, RemoteSession

BASE_URL = "/services/firecrest/"
ACCESS_SCOPE = "access:services!service=firecrest"
SYSTEM = {"name": "cluster", "host": "127.0.0.1", "port": 2222, "filesystems": ["/home", "/tmp"],
          "transfer_partition": "xfer", "service_account": "firecrest"}


def _user(name: str, scopes=(ACCESS_SCOPE,), kind: str = "user") -> dict:
    return {"kind": kind, "name": name, "admin": False, "groups": [], "scopes": list(scopes)}


# The hub's answers: token -> model (as GET /hub/api/user gives it). A token not here is unknown or revoked.
TOKENS = {
    "alice-token": _user("alice"),
    "bob-token": _user("bob"),
    "root-token": _user("root"),              # a hub user named like a reserved account
    "firecrest-token": _user("firecrest"),    # ... and like the system's service account
    "www-data-token": _user("www-data"),      # a valid name whose uid on the system is a system account's
    "no-scope-token": _user("alice", scopes=("read:users",)),
    "service-token": _user("some-service", kind="service"),
    "hub-down-token": HTTPError(502, "the hub did not answer"),  # what HubAuth raises when the hub is down
}
# What `getent passwd` answers on the replayed system: account -> uid; other accounts do not exist (exit 2).
UIDS = {"alice": 1001, "bob": 1002, "firecrest": 1003, "www-data": 33}


class StandInHubAuth(app.HubOAuth):
    """HubOAuth whose one question to the hub, who owns this token, is answered from TOKENS."""

    def user_for_token(self, token, use_cache=True, session_id="", *, sync=True):
        model = TOKENS.get(token)
        if isinstance(model, Exception):
            raise model
        model = dict(model, scopes=list(model["scopes"])) if model else None
        if sync:
            return model

        async def answer():
            return model

        return answer()


# -- the replayed system -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One thing done on the system as `account`: a command (argv, stdin) or an SFTP request, logged as
    argv ("sftp.<request>", path)."""

    account: str
    argv: tuple[str, ...]
    stdin: str | bytes | None = None


def uid_lookup(account: str) -> Call:
    """The account policy's question before a session for `account` exists (asked once, then cached)."""
    return Call(SYSTEM["service_account"], ("getent", "passwd", "--", account))


@dataclass
class Replay:
    """Recorded answers by argv pattern, and the log of every command and SFTP request, as they came."""

    log: list[Call] = field(default_factory=list)
    unanswered: list[Call] = field(default_factory=list)
    _answers: list[tuple[tuple[str, ...], CommandResult | Exception]] = field(default_factory=list)
    files: FileTree = field(default_factory=lambda: FileTree())

    def answer(self, pattern, stdout: str = "", stderr: str = "", exit_status: int = 0) -> None:
        """Commands whose leading words match `pattern` (fnmatch, word by word) print this; the latest
        recorded pattern that matches wins."""
        self._answers.insert(0, (tuple(pattern), CommandResult(tuple(pattern), exit_status, stdout, stderr)))

    def fail(self, pattern, error: Exception) -> None:
        """Commands matching `pattern` raise `error`, as the pool does (CommandTimeout, OutputTooLarge,
        ClusterUnreachable...)."""
        self._answers.insert(0, (tuple(pattern), error))

    def ran_as(self, account: str) -> list[tuple[str, ...]]:
        """The argv of each command and SFTP request done as `account`, in order."""
        return [call.argv for call in self.log if call.account == account]

    def run(self, account: str, argv, stdin) -> CommandResult:
        call = Call(account, tuple(argv), stdin)
        self.log.append(call)
        for pattern, answer in self._answers:
            if len(argv) >= len(pattern) and all(map(fnmatch.fnmatchcase, argv, pattern)):
                if isinstance(answer, Exception):
                    raise answer
                return CommandResult(call.argv, answer.exit_status, answer.stdout, answer.stderr)
        self.unanswered.append(call)
        raise AssertionError(f"no recorded answer for {list(argv)}")

    def record_uids(self, uids: dict[str, int]) -> None:
        self.answer(["getent", "passwd", "--", "*"], exit_status=2)
        for account, uid in uids.items():
            self.answer(["getent", "passwd", "--", account],
                        stdout=f"{account}:x:{uid}:{uid}::/home/{account}:/bin/bash\n")


class ReplaySession(RemoteSession):
    """A real RemoteSession (its pool's limits, its command objects) whose commands and SFTP are replayed."""

    def __init__(self, replay: Replay, pool, system, account, hub_user):
        super().__init__(pool, system, account, hub_user)
        self.replay = replay

    async def run(self, argv, *, stdin=None, timeout=None, output_limit=None) -> CommandResult:
        return self.replay.run(self.account, argv, stdin)

    async def sftp(self):
        return FakeSFTP(self.replay, self.account)


class FileTree:
    """The replayed system's files: path -> SFTPAttrs plus the file's bytes or the link's target.
    `deny(path)` makes every SFTP request on that path a permission denial."""

    def __init__(self):
        self.nodes: dict[str, dict] = {}
        self.denied: set[str] = set()
        for directory in ("/", "/home", "/home/alice", "/home/bob", "/tmp"):
            self.add_directory(directory)

    def add_directory(self, path: str) -> None:
        self.nodes[path] = {"attrs": _attrs(stat.S_IFDIR | 0o755)}

    def add_file(self, path: str, data: bytes = b"") -> None:
        self.nodes[path] = {"attrs": _attrs(stat.S_IFREG | 0o644, len(data)), "data": data}

    def add_link(self, path: str, target: str) -> None:
        self.nodes[path] = {"attrs": _attrs(stat.S_IFLNK | 0o777, len(target)), "target": target}

    def deny(self, path: str) -> None:
        self.denied.add(path)


class FakeSFTP:
    """The SFTP requests of the file endpoints, as one account, against the FileTree, with OpenSSH's
    errors. Paths arrive as str or bytes, as asyncssh accepts both."""

    def __init__(self, replay: Replay, account: str):
        self.replay, self.account = replay, account
        self.nodes, self.denied = replay.files.nodes, replay.files.denied

    def _request(self, op: str, path) -> str:
        path = path.decode() if isinstance(path, bytes) else path
        self.replay.log.append(Call(self.account, (f"sftp.{op}", path)))
        if path in self.denied:
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        return path

    def _node(self, path: str, follow: bool) -> dict:
        resolved = self._resolve(path) if follow else path
        if resolved not in self.nodes:
            raise asyncssh.SFTPNoSuchFile("No such file")
        return self.nodes[resolved]

    def _resolve(self, path: str, depth: int = 0) -> str:
        """realpath(3): every link followed; a missing last name kept, a missing directory an error."""
        current = "/"
        parts = [part for part in path.split("/") if part]
        for index, name in enumerate(parts):
            candidate = posixpath.join(current, name)
            node = self.nodes.get(candidate)
            if node is None:
                if index < len(parts) - 1:
                    raise asyncssh.SFTPNoSuchFile("No such file")
                return candidate
            if "target" in node:
                if depth > 8:
                    raise asyncssh.SFTPFailure("Too many levels of symbolic links")
                candidate = self._resolve(posixpath.join(current, node["target"]), depth + 1)
            current = candidate
        return current

    async def realpath(self, path):
        resolved = self._resolve(self._request("realpath", path))
        return resolved.encode() if isinstance(path, bytes) else resolved

    async def stat(self, path):
        return self._node(self._request("stat", path), follow=True)["attrs"]

    async def lstat(self, path):
        return self._node(self._request("lstat", path), follow=False)["attrs"]

    async def readlink(self, path):
        node = self._node(self._request("readlink", path), follow=False)
        return node["target"].encode() if isinstance(path, bytes) else node["target"]

    async def scandir(self, path):
        directory = self._request("scandir", path)
        node = self._node(directory, follow=True)
        if not stat.S_ISDIR(node["attrs"].permissions):
            raise asyncssh.SFTPNoSuchFile("No such file")
        directory = self._resolve(directory)
        for child in sorted(self.nodes):
            if child != "/" and posixpath.dirname(child) == directory:
                attrs = self.nodes[child]["attrs"]
                name = posixpath.basename(child).encode()
                longname = f"{stat.filemode(attrs.permissions)} 1 alice alice {attrs.size} Jan 1 00:00 ".encode() + name
                yield asyncssh.SFTPName(name, longname, attrs)

    async def mkdir(self, path):
        path = self._request("mkdir", path)
        if path in self.nodes:
            raise asyncssh.SFTPFailure("Failure")
        if posixpath.dirname(path) not in self.nodes:
            raise asyncssh.SFTPNoSuchFile("No such file")
        self.replay.files.add_directory(path)

    async def remove(self, path):
        path = self._request("remove", path)
        node = self._node(path, follow=False)
        if stat.S_ISDIR(node["attrs"].permissions):
            raise asyncssh.SFTPFailure("Failure")
        del self.nodes[path]

    async def posix_rename(self, source, target):
        source, target = self._request("posix_rename", source), target.decode() if isinstance(target, bytes) else target
        self.nodes[target] = self._node(source, follow=False)
        del self.nodes[source]

    async def open(self, path, mode="r"):
        path = self._request("open", path)
        if "x" in mode:
            if path in self.nodes:
                raise asyncssh.SFTPFailure("Failure")
            self.replay.files.add_file(path)
        return _FakeFile(self, self._resolve(path))

    def __getattr__(self, name):
        raise AssertionError(f"FakeSFTP has no {name!r}: the handler under test needs more of the fake")


class _FakeFile:
    def __init__(self, sftp: FakeSFTP, path: str):
        self.sftp, self.path, self.position = sftp, path, 0

    async def read(self, size: int = -1, offset: int | None = None) -> bytes:
        data = self.sftp.nodes[self.path]["data"]
        start = self.position if offset is None else offset
        chunk = data[start:] if size < 0 else data[start:start + size]
        self.position = start + len(chunk)
        return chunk

    async def write(self, data: bytes) -> None:
        self.sftp.replay.files.add_file(self.path, self.sftp.nodes[self.path]["data"] + data)

    async def close(self) -> None:
        pass


def _attrs(permissions: int, size: int = 0) -> asyncssh.SFTPAttrs:
    return asyncssh.SFTPAttrs(permissions=permissions, size=size, uid=1001, gid=1001, mtime=0, atime=0)


# -- the service ---------------------------------------------------------------------------------------


@dataclass
class ServedAPI:
    service: app.FirecrestService
    replay: Replay
    url: str  # ends in /api/v1

    async def fetch(self, method: str, path: str, token: str | None = None, *, machine: str | None = "cluster",
                    params: dict | None = None, form: dict | None = None, headers: dict | None = None,
                    body: bytes | None = None) -> HTTPResponse:
        """One request as a client sends it: the token as `Authorization: Bearer`, the system as
        X-Machine-Name, `params` in the query, `form` urlencoded in the body. Redirects are not followed."""
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if machine is not None:
            headers["X-Machine-Name"] = machine
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if body is None and method in ("POST", "PUT"):
            body = b""
        url = f"{self.url}/{path}" + (f"?{urlencode(params)}" if params else "")
        return await AsyncHTTPClient().fetch(
            url, method=method, headers=headers, body=body, raise_error=False, follow_redirects=False,
            allow_nonstandard_methods=True, request_timeout=10)


def json_of(response: HTTPResponse) -> dict:
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    return json.loads(response.body)


@contextlib.asynccontextmanager
async def serve_api(tmp_path):
    """The service's Application with every route on a free local port, the hub and the systems replayed."""
    key = tmp_path / "user_ca"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(key))
    key.chmod(0o400)
    (tmp_path / "known_hosts").write_text("")
    (tmp_path / "empty_config.py").write_text("")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    config = Config()
    config.FirecrestService.config_file = str(tmp_path / "empty_config.py")
    config.FirecrestService.base_url = BASE_URL
    config.Systems.systems = [{**SYSTEM, "known_hosts": str(tmp_path / "known_hosts")}]
    config.CertificateAuthority.ca_key_file = str(key)
    config.TaskStore.db_url = f"sqlite:///{state / 'tasks.sqlite'}"
    config.HubOAuth.api_url = "http://127.0.0.1:9/hub/api"  # never asked: StandInHubAuth answers
    config.HubOAuth.api_token = "stand-in"
    config.HubOAuth.access_scopes = {ACCESS_SCOPE}

    replay = Replay()
    replay.record_uids(UIDS)
    with mock.patch.object(app, "HubOAuth", StandInHubAuth):
        service = app.FirecrestService(config=config)
        service.initialize([])
    pool = service.access.pool
    pool.session = lambda system, account, hub_user=None: ReplaySession(replay, pool, system, account,
                                                                       hub_user or account)
    await service.tasks.open()
    sock, port = bind_unused_port()
    server = HTTPServer(service.web_app)
    server.add_sockets([sock])
    try:
        yield ServedAPI(service, replay, f"http://127.0.0.1:{port}{BASE_URL}api/v1")
    finally:
        server.stop()
        await server.close_all_connections()
        await service.tasks.close()
        await service.access.close()
    assert not replay.unanswered, f"commands ran that the test recorded no answer for: {replay.unanswered}"
