"""Numbers in text are ASCII digits, within bounds, or a clear refusal."""

import pytest

from firecrest_hub.errors import InvalidInput
from firecrest_hub.numbers import parse_whole_number, whole_number


@pytest.mark.parametrize("text", ["²", "٣", "３", "1_000", "+1", "-1", " 1", "1.0", "", "9" * 19, None, 7])
def test_only_ascii_digits_spell_a_number(text):
    assert parse_whole_number(text) is None


def test_whole_numbers_within_bounds():
    assert parse_whole_number("0042") == 42
    assert whole_number("pageSize", "25", 1, 100) == 25
    for text in ("0", "101", "²", "9" * 5000):
        with pytest.raises(InvalidInput, match="pageSize must be a whole number from 1 to 100"):
            whole_number("pageSize", text, 1, 100)
