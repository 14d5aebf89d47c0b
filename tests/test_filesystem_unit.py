"""The path policy, the argv of the file commands and their parsers, with hostile strings; no cluster."""

import io
import os
import shlex
import subprocess
import tarfile
import zipfile
from types import SimpleNamespace

import asyncssh
import pytest

from firecrest_hub import errors
from firecrest_hub.api.base import status_for
from firecrest_hub.filesystem import PathPolicy, PathResolver
from firecrest_hub.filesystem import commands as c
from firecrest_hub.filesystem.sftp_ops import _entry
from firecrest_hub.remote import CommandResult, to_shell

POLICY = PathPolicy(("/home", "/tmp"))

# Legal file names that a shell would read as code: safe only because no shell ever parses them.
HOSTILE_NAMES = [
    "a'b", 'a"b', "$(touch /tmp/pwned)", "`id`", "a;rm -rf ~", "a|b", "a&b", "a>b", "a b", "-rf", "--help",
    "a\\b", "*", "~", "日本語",
]
CONTROL = ["a\nb", "a\rb", "a\x00b", "a\tb", "a\x1bb", "a\x7fb"]


# ---- the path policy --------------------------------------------------------------------------------

@pytest.mark.parametrize("path, expected", [
    ("/home/alice", "/home/alice"),
    ("/home", "/home"),
    ("/tmp/x/y", "/tmp/x/y"),
    ("/home//alice///x/", "/home/alice/x"),
    ("/home/./alice/.", "/home/alice"),
    ("/home/alice/..x", "/home/alice/..x"),
    ("/home/alice/.hidden", "/home/alice/.hidden"),
])
def test_accepted_paths_come_back_normalized(path, expected):
    assert POLICY.check(path) == expected


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_but_legal_names_are_paths_like_any_other(name):
    assert POLICY.check(f"/home/alice/{name}") == f"/home/alice/{name}"


@pytest.mark.parametrize("path, reason", [
    (None, "missing"),
    ("", "missing"),
    ("home/alice", "not an absolute path"),
    ("alice", "not an absolute path"),
    ("-rf", "not an absolute path"),
    ("--help", "not an absolute path"),
    ("~/x", "not an absolute path"),
    ("$(touch /tmp/pwned)", "not an absolute path"),
    ("/home/alice/../bob", "'..'"),
    ("/home/..", "'..'"),
    ("/tmp/../etc/passwd", "'..'"),
    ("/..", "'..'"),
    ("/", "outside the filesystems"),
    ("/etc/passwd", "outside the filesystems"),
    ("/homeX", "outside the filesystems"),
    ("/homeX/alice", "outside the filesystems"),
    ("/home-alice", "outside the filesystems"),
    ("/tmpfoo", "outside the filesystems"),
    ("/var/tmp", "outside the filesystems"),
    ("/" + "a" * 5000, "longer than"),
] + [(f"/home/{name}", "control characters") for name in CONTROL])
def test_refused_paths_name_the_problem(path, reason):
    with pytest.raises(errors.InvalidPath, match="targetPath") as caught:
        POLICY.check(path, "targetPath")
    assert reason in caught.value.description


@pytest.mark.parametrize("path", ["/home/a\u65e5\u672c", "/etc/\u65e5\u672c", "/x\n/y", "/home/..\u00e9"])
def test_refusals_fit_in_an_http_header(path):
    """The description becomes v1's X-Invalid-Path header: printable ASCII, one line."""
    try:
        POLICY.check(path)
    except errors.InvalidPath as error:
        assert error.description.isascii() and error.description.isprintable()


def test_root_filesystem_admits_every_absolute_path():
    assert PathPolicy(("/",)).check("/etc/passwd") == "/etc/passwd"


def test_filesystem_roots_cannot_be_removed_or_moved():
    with pytest.raises(errors.InvalidPath, match="root of a filesystem"):
        POLICY.check_removable("/home/", "targetPath")
    assert POLICY.check_removable("/home/alice") == "/home/alice"


@pytest.mark.parametrize("name", ["x.txt", ".hidden", "a b", "$(id)", "-rf", "日本"])
def test_join_accepts_plain_file_names(name):
    assert POLICY.join("/home/alice/", name) == f"/home/alice/{name}"


@pytest.mark.parametrize("name", [None, "", ".", "..", "a/b", "../x", "/etc/passwd", "a\nb", "a\x00b", "x" * 256])
def test_join_refuses_anything_but_a_plain_file_name(name):
    with pytest.raises(errors.InvalidPath):
        POLICY.join("/home/alice", name)


# ---- argv: every value one word, `--` before the paths ------------------------------------------------

def _commands(path, other):
    return [
        c.FileType(path), c.StatFile(path, True), c.StatFile(path, False), c.OwnerNames(path), c.Checksum(path),
        c.FilePart("head", path, limit=10, lines="5"), c.FilePart("tail", path, limit=10, bytes="1K", skip=True),
        c.Copy(path, other), c.Move(path, other), c.RemoveTree(path), c.ChangeMode(path, "u+x"),
        c.ChangeOwner(path, "alice", "users"), c.Compress(path, other, True),
    ]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_paths_stay_single_words_after_the_options(name):
    path, other = f"/home/alice/{name}", f"/tmp/{name}-2"
    for command in _commands(path, other):
        argv = command.argv()
        assert shlex.split(to_shell(argv)) == argv, argv  # the quoting round-trips: no word splits or joins
        assert "--" in argv, argv
        after = argv[argv.index("--") + 1:]
        for word in argv[:argv.index("--")]:
            # Before `--` only options; a path may appear only inside an --option=value word.
            assert word == argv[0] or word.startswith("-"), argv
        assert any(name in word for word in after + argv), argv


def test_compress_stores_the_source_under_its_own_name():
    argv = c.Compress("/home/alice/my dir", "/home/alice/out.tar.gz", False).argv()
    assert argv == ["tar", "--create", "--gzip", "--file=/home/alice/out.tar.gz", "--directory=/home/alice",
                    "--", "my dir"]
    assert "--dereference" in c.Compress("/home/alice/d", "/home/alice/o.tgz", True).argv()


@pytest.mark.parametrize("source, extension, tool", [
    ("/home/a/x.zip", "auto", "unzip"), ("/home/a/x.tar", None, "tar"), ("/home/a/x.tgz", "", "tar"),
    ("/home/a/x.tar.gz", "auto", "tar"), ("/home/a/x.bz2", "auto", "tar"), ("/home/a/archive", ".zip", "unzip"),
])
def test_extraction_tool_follows_the_extension(source, extension, tool):
    assert c.Extract(source, "/home/a/out", extension).argv() == [
        "bash", "-c", c.EXTRACT_SCRIPT, "extract-archive", tool, source, "/home/a/out"]


@pytest.mark.parametrize("source, extension", [("/home/a/x.rar", "auto"), ("/home/a/x", None),
                                               ("/home/a/x.zip", "; rm -rf ~"), ("/home/a/x.zip", ".exe")])
def test_unknown_extensions_are_refused(source, extension):
    with pytest.raises(errors.InvalidInput, match="supported extensions"):
        c.Extract(source, "/home/a/out", extension)


@pytest.mark.parametrize("tool, kwargs, option", [
    ("head", {}, None),
    ("head", {"lines": "5"}, "--lines=5"),
    ("head", {"bytes": "1K", "skip": True}, "--bytes=-1K"),
    ("tail", {"lines": "20", "skip": True}, "--lines=+20"),
    ("tail", {"bytes": "5MB"}, "--bytes=5MB"),
    ("tail", {"bytes": "2KiB"}, "--bytes=2KiB"),
])
def test_head_and_tail_options(tool, kwargs, option):
    argv = c.FilePart(tool, "/home/a/f", limit=100, **kwargs).argv()
    assert argv == [tool, *([option] if option else []), "--", "/home/a/f"]


@pytest.mark.parametrize("count", ["-5", "+5", "5x", "1; id", "$(id)", "`id`", "5\n", " 5", "0x10", "1" * 19,
                                   "--help"])
def test_head_and_tail_counts_are_checked(count):
    for key in ("lines", "bytes"):
        with pytest.raises(errors.InvalidInput, match=key):
            c.FilePart("head", "/home/a/f", limit=100, **{key: count})


def test_head_takes_bytes_or_lines_not_both():
    with pytest.raises(errors.InvalidInput, match="not both"):
        c.FilePart("tail", "/home/a/f", limit=100, lines="1", bytes="1")


def test_grep_keeps_the_lines_with_the_fixed_string():
    command = c.FilePart("tail", "/home/a/f", limit=100, grep="a.b")
    assert command.argv() == ["tail", "--", "/home/a/f"]  # no pipe, no grep process: filtered here
    assert command.parse(_ok("xa.by\naxb\n$(a.b)\n")) == "xa.by\n$(a.b)\n"
    with pytest.raises(errors.PatternNotFound, match="pattern not found"):  # v1's 404
        command.parse(_ok("none\n"))
    for pattern in ("", "a\nb", "a\x00b"):
        with pytest.raises(errors.InvalidInput, match="grep"):
            c.FilePart("head", "/home/a/f", limit=100, grep=pattern)


def test_head_output_over_the_cap_is_refused():
    command = c.FilePart("head", "/home/a/f", limit=4)
    assert command.parse(CommandResult(("head",), 0, "abcd", "")) == "abcd"
    with pytest.raises(errors.OutputTooLarge, match="more than 4 bytes"):
        command.parse(CommandResult(("head",), 0, "abcde", ""))


@pytest.mark.parametrize("mode", ["700", "0644", "4755", "u+x", "go-w", "a=rX", "u=rwx,g=rx,o=", "+t", "-w", "g=u"])
def test_valid_modes(mode):
    argv = c.ChangeMode("/home/a/f", mode).argv()
    assert argv == ["chmod", "--verbose", "--", mode, "/home/a/f"]


@pytest.mark.parametrize("mode", [None, "", "800", "12345", "u+x;id", "$(id)", "777\n", "--reference=/etc/passwd",
                                  "u+q", "rwx", " 700"])
def test_invalid_modes_are_refused(mode):
    with pytest.raises(errors.InvalidMode):
        c.ChangeMode("/home/a/f", mode)


@pytest.mark.parametrize("owner, group, spec", [("alice", None, "alice"), (None, "users", ":users"),
                                                 ("alice", "users", "alice:users"), ("1001", "100", "1001:100")])
def test_chown_spec(owner, group, spec):
    assert c.ChangeOwner("/home/a/f", owner, group).argv() == ["chown", "--verbose", "--", spec, "/home/a/f"]


@pytest.mark.parametrize("name", ["-alice", "alice:users", "al ice", "$(id)", "a;b", "alice\n", "ALICE", "a" * 40])
def test_chown_names_are_checked(name):
    with pytest.raises(errors.InvalidOwner):
        c.ChangeOwner("/home/a/f", name, None)
    with pytest.raises(errors.InvalidGroup):
        c.ChangeOwner("/home/a/f", None, name)


def test_chown_needs_an_owner_or_a_group():
    with pytest.raises(errors.InvalidInput, match="owner, a group or both"):
        c.ChangeOwner("/home/a/f", None, "")


# ---- parsers ------------------------------------------------------------------------------------------

def _ok(stdout):
    return CommandResult(("x",), 0, stdout, "")


def test_stat_fields_as_v1():
    line = "81a4 1590164 65024 1 1001 1001 12 1700000001 1700000002 1700000003\n"
    stat = c.StatFile("/home/a/f", False).parse(_ok(line))
    assert stat == {"mode": 0o100644, "ino": 1590164, "dev": 65024, "nlink": 1, "uid": 1001, "gid": 1001,
                    "size": 12, "atime": 1700000001, "mtime": 1700000002, "ctime": 1700000003}


def test_checksum_is_the_hex_digest():
    digest = "4a1e67f2fe1d1cc7b31d0ca2ec441da4778203a036a77da10344c85e24ff0f92"
    assert c.Checksum("/home/a/f").parse(_ok(f"{digest}  /home/a/f\n")) == digest
    assert c.Checksum("/home/a/f\\x").parse(_ok(f"\\{digest}  /home/a/f\\\\x\n")) == digest


def test_whoami_with_groups_as_v1():
    output = c.Whoami(True).parse(_ok("uid=1001(alice) gid=1001(alice) groups=1001(alice),27(sudo),5000\n"))
    assert output == {
        "user": {"name": "alice", "id": "1001"},
        "group": {"name": "alice", "id": "1001"},
        "groups": [{"name": "alice", "id": "1001"}, {"name": "sudo", "id": "27"}, {"name": "5000", "id": "5000"}],
    }
    assert c.Whoami(False).parse(_ok("alice\n")) == "alice"
    assert c.Whoami(False).argv() == ["id", "-un"]


@pytest.mark.parametrize("stdout, error", [
    ("regular file, no read permission\n", errors.PermissionDenied),
    ("cannot open `/home/a/x' (No such file or directory)\n", errors.NotFound),
])
def test_file_reports_trouble_as_errors(stdout, error):
    with pytest.raises(error):
        c.FileType("/home/a/x").parse(_ok(stdout))
    assert c.FileType("/home/a/x").parse(_ok("ASCII text\n")) == "ASCII text"


@pytest.mark.parametrize("stderr, error, header", [
    ("mkdir: cannot create directory '/home/a/x': File exists", errors.AlreadyExists, "X-Exists"),
    ("cp: cannot stat '/home/a/x': No such file or directory", errors.NotFound, "X-Invalid-Path"),
    ("rm: cannot remove '/home/b/x': Permission denied", errors.PermissionDenied, "X-Permission-Denied"),
    ("chown: changing ownership of '/home/a/x': Operation not permitted", errors.PermissionDenied,
     "X-Permission-Denied"),
    ("chown: invalid user: \u2018nobody1\u2019", errors.InvalidOwner, "X-Invalid-Owner"),
    ("chown: invalid group: 'x'", errors.InvalidGroup, "X-Invalid-Group"),
    ("chmod: invalid mode: '8'", errors.InvalidMode, "X-Invalid-Mode"),
    ("sha256sum: /home/a: Is a directory", errors.IsADirectory, "X-A-Directory"),
    ("tar: /home/a/f/x: Cannot open: Not a directory", errors.NotADirectory, "X-Not-A-Directory"),
    ("unzip: something else\nwent wrong", errors.CommandFailed, "X-Error"),
])
def test_failures_map_to_v1_headers(stderr, error, header):
    with pytest.raises(error) as caught:
        c.Copy("/home/a/x", "/home/a/y").parse(CommandResult(("cp",), 1, "", stderr))
    assert status_for(caught.value)[1] == header
    assert caught.value.description.isascii() and "\n" not in caught.value.description


def test_missing_source_is_x_not_found():
    assert status_for(errors.SourceNotFound("x")) == (400, "X-Not-Found")
    assert status_for(errors.InvalidPath("x")) == (400, "X-Invalid-Path")
    assert status_for(errors.FileTooLarge("x")) == (413, "X-Size-Limit")


def test_plain_makes_messages_header_safe():
    assert c.plain("a\n  b\t\u2018c\u2019\x00") == "a b \\u2018c\\u2019\\x00"


# ---- ls entries from SFTP attributes --------------------------------------------------------------------

def _attrs(mode, size=12, uid=1001, gid=1002, mtime=1700000000):
    return SimpleNamespace(permissions=mode, size=size, uid=uid, gid=gid, mtime=mtime)


def test_entry_takes_owner_names_from_the_long_name():
    longname = b"-rw-r--r--    1 alice    users          12 Nov 14 22:13 a file"
    entry = _entry("a file", _attrs(0o100644), longname)
    assert entry["name"] == "a file" and entry["type"] == "-" and entry["permissions"] == "rw-r--r--"
    assert (entry["user"], entry["group"], entry["size"], entry["link_target"]) == ("alice", "users", "12", "")
    assert set(entry) == {"name", "type", "link_target", "user", "group", "permissions", "last_modified", "size"}


def test_entry_without_long_name_has_numeric_owners():
    entry = _entry("d", _attrs(0o40755), None)
    assert (entry["type"], entry["permissions"], entry["user"], entry["group"]) == ("d", "rwxr-xr-x", "1001", "1002")
    assert _entry("l", _attrs(0o120777), None)["type"] == "l"


# ---- where paths lead: the resolver, with sftp-server's realpath(3) played by a table ------------------

class RealpathTable:
    """An SFTP client whose realpath answers as OpenSSH's does: `links` maps a path (up to a symlink in it)
    to what that link leads to, a missing last name is kept, a missing directory on the way is an error."""

    def __init__(self, links: dict[str, str], existing: set[str]):
        self.links, self.existing, self.asked = links, existing, []

    async def realpath(self, path):
        text = path.decode() if isinstance(path, bytes) else path
        self.asked.append(text)
        resolved = "/"
        parts = [part for part in text.split("/") if part]
        for index, part in enumerate(parts):
            resolved = resolved.rstrip("/") + "/" + part
            resolved = self.links.get(resolved, resolved)
            if resolved not in self.existing and index < len(parts) - 1:
                raise asyncssh.SFTPNoSuchFile("No such file")
        return resolved.encode() if isinstance(path, bytes) else resolved


def resolver(links=None, existing=("/", "/home", "/home/bob", "/tmp", "/etc"), filesystems=("/home", "/tmp")):
    sftp = RealpathTable(links or {}, set(existing))

    async def open_sftp():
        return sftp

    session = SimpleNamespace(system=SimpleNamespace(filesystems=filesystems), sftp=open_sftp,
                              pool=SimpleNamespace(command_timeout=5))
    return PathResolver.for_session(session), sftp


async def test_a_path_through_a_link_out_of_the_filesystems_is_an_invalid_path():
    paths, sftp = resolver({"/home/bob/x": "/etc"})
    for path in ("/home/bob/x", "/home/bob/x/hostname", "/home/bob/x/new-file"):
        with pytest.raises(errors.InvalidPath, match="resolves to '/etc.*outside the filesystems") as caught:
            await paths.check(path)
        assert status_for(caught.value) == (400, "X-Invalid-Path")
    # One request each, and once the roots themselves: a site's /home may be a link to /export/home.
    assert sftp.asked == ["/home/bob/x", "/home", "/tmp", "/home/bob/x/hostname", "/home/bob/x/new-file"]


async def test_paths_that_stay_inside_cost_one_request_and_come_back_as_given():
    paths, sftp = resolver({"/home/bob/data": "/tmp/data-of-bob"}, existing={"/", "/home", "/home/bob", "/tmp",
                                                                           "/tmp/data-of-bob"})
    assert await paths.check("/home/bob/data/f") == "/home/bob/data/f"
    assert await paths.check("/home/bob/new-name") == "/home/bob/new-name"
    assert sftp.asked == ["/home/bob/data/f", "/home/bob/new-name"]


async def test_missing_directories_resolve_through_the_nearest_existing_ancestor():
    paths, sftp = resolver({"/home/bob/x": "/etc"})
    assert await paths.check("/home/bob/a/b/c") == "/home/bob/a/b/c"
    assert sftp.asked == ["/home/bob/a/b/c", "/home/bob/a/b", "/home/bob/a"]
    with pytest.raises(errors.InvalidPath, match="resolves to '/etc/a/b'"):
        await paths.check("/home/bob/x/a/b")


async def test_an_entry_has_only_its_directory_resolved():
    paths, sftp = resolver({"/home/bob/x": "/etc"})
    assert await paths.check_entry("/home/bob/x") == "/home/bob/x"  # the link itself: rm, rename, stat
    assert sftp.asked == ["/home/bob"]
    with pytest.raises(errors.InvalidPath, match="resolves to '/etc'"):
        await paths.check_entry("/home/bob/x/hostname")
    assert await paths.check_entry("/home") == "/home"  # a root is inside, though its directory is not


async def test_filesystems_that_are_links_themselves_count_as_resolved():
    paths, sftp = resolver({"/home": "/export/home"}, existing={"/", "/export", "/export/home",
                                                                "/export/home/bob", "/tmp", "/etc"})
    assert await paths.check("/home/bob/f") == "/home/bob/f"
    assert await paths.check("/home/bob/g") == "/home/bob/g"
    # The roots are asked once, and only because a path led outside them as configured.
    assert sftp.asked == ["/home/bob/f", "/home", "/tmp", "/home/bob/g"]
    with pytest.raises(errors.InvalidPath):
        await paths.check("/etc")


def _member(name: str, kind: bytes, *, link: str = "", data: bytes = b"") -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size, info.mode = kind, link, len(data), 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info, io.BytesIO(data)


# Links an archive may carry: what each must be after extraction (kept, or gone).
HOSTILE_LINKS = {
    "absolute": ("/etc", False),
    "climbing": ("../../../etc", False),
    "just-out": ("../outside", False),
    "self": (".", True),  # the archive's own top: fine on its own...
    "through-self": ("self/..", False),  # ...but followed by `..` it leaves (a lexical check would miss this)
    "sub/up-and-in": ("../data.txt", True),
    "sub/up-and-out": ("../../x", False),
    "inside": ("data.txt", True),
    "dangling-inside": ("not-there-yet", True),
}


def _run_extract(tool: str, archive, target) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", c.EXTRACT_SCRIPT, "extract-archive", tool, str(archive), str(target)],
                          capture_output=True, text=True, check=False)


def _check_extracted(target, result):
    assert result.returncode == 0, result.stderr
    assert (target / "data.txt").read_text() == "data" and (target / "sub" / "f").read_text() == "f"
    for name, (link, kept) in HOSTILE_LINKS.items():
        assert os.path.islink(target / name) == kept, (name, result.stderr)
        if kept:
            assert os.readlink(target / name) == link
        else:
            assert f"removed the symlink {name} -> {link}" in result.stderr
    assert [entry.name for entry in target.iterdir() if entry.name.startswith(".extract.")] == []


def test_extraction_drops_symlinks_that_leave_the_archive(tmp_path):
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        tar.addfile(*_member("data.txt", tarfile.REGTYPE, data=b"data"))
        tar.addfile(*_member("sub", tarfile.DIRTYPE))
        tar.addfile(*_member("sub/f", tarfile.REGTYPE, data=b"f"))
        for name, (link, _) in HOSTILE_LINKS.items():
            tar.addfile(*_member(name, tarfile.SYMTYPE, link=link))
    target = tmp_path / "deep" / "down" / "out"
    _check_extracted(target, _run_extract("tar", archive, target))


def test_zip_extraction_drops_them_too_and_merges_into_what_is_there(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr("data.txt", "data")
        zip_file.writestr("sub/f", "f")
        for name, (link, _) in HOSTILE_LINKS.items():
            info = zipfile.ZipInfo(name)
            info.create_system, info.external_attr = 3, (0o120777 << 16)  # a Unix symlink
            zip_file.writestr(info, link)
    target = tmp_path / "deep" / "down" / "out"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "kept.txt").write_text("was here")
    (target / "data.txt").write_text("old")
    _check_extracted(target, _run_extract("unzip", archive, target))
    assert (target / "sub" / "kept.txt").read_text() == "was here"
