"""Numbers in text from users and from the systems' tools: ASCII digits only.

`str.isdigit()` also takes "²" (which `int()` refuses with a ValueError) and `int()` reads "٣" as 3 and
"1_000" as 1000: neither is a number a user or a tool means here. Every parse of such text goes through
these two functions.
"""

from __future__ import annotations

import re

from .errors import InvalidInput

# 18 digits hold every count, size (5 TiB is 13) and id in use, and keep int() far from its 4300-digit limit.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def parse_whole_number(text: str | None) -> int | None:
    """The whole number `text` spells in ASCII digits, or None when it spells none."""
    if not isinstance(text, str) or not _WHOLE_NUMBER.fullmatch(text):
        return None
    return int(text)


def whole_number(label: str, text: str | None, low: int, high: int) -> int:
    """`text` as a whole number from `low` to `high`, or InvalidInput naming `label` and the range."""
    number = parse_whole_number(text)
    if number is None or not low <= number <= high:
        raise InvalidInput(f"{label} must be a whole number from {low} to {high}, not {text!a}")
    return number
