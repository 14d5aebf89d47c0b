"""How a command shell's reader finds the end of a command's output, whatever the reads' boundaries."""

import pytest

from firecrest_hub.remote.shell import _Overflow, _read_until


class Chunks:
    """A stream that yields the given pieces, then EOF."""

    def __init__(self, *pieces: bytes):
        self.pieces = list(pieces)

    async def read(self, _size: int) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""


MARKER = b"\nT0K3N "


async def test_the_marker_may_straddle_two_reads():
    assert await _read_until(Chunks(b"out", b"put\nT0", b"K3N 0\n"), MARKER, 100) == (b"output", b"0\n")


async def test_output_that_looks_like_part_of_the_marker_is_kept():
    stream = Chunks(b"T0K3N \nT0K3", b"x\n", MARKER + b"7\n")
    assert await _read_until(stream, MARKER, 100) == (b"T0K3N \nT0K3x\n", b"7\n")


async def test_a_large_output_in_many_reads():
    pieces = [bytes([n % 251]) * 65536 for n in range(40)]
    output, rest = await _read_until(Chunks(*pieces, MARKER + b"0\n"), MARKER, 40 * 65536)
    assert output == b"".join(pieces) and rest == b"0\n"


async def test_output_past_the_cap_stops_the_reading():
    with pytest.raises(_Overflow):
        await _read_until(Chunks(*[b"x" * 65536] * 10), MARKER, 100_000)


async def test_a_shell_that_ends_before_the_marker():
    with pytest.raises(EOFError):
        await _read_until(Chunks(b"partial output"), MARKER, 100)
