"""The library's messages in command-line words: the one place they are translated.

The library speaks to Python users (``codec=NAME``, ``flag 'n'``, ``open()``);
the command line says the same with its own options (``--codec NAME``,
``copy --replace --force``). Every error line and every ``check`` problem goes
through :func:`for_cli`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

__all__ = ["START_ANEW", "for_cli"]

#: How the command line starts a store anew, where the library says to open it with flag "n".
START_ANEW: Final = "'storagebackend copy --replace --force SRC DST'"


def _unknown_option(match: re.Match[str]) -> str:
    return f"--{match['option'].replace('_', '-')} does not apply to a {match['scheme']} store"


#: (pattern, replacement) in the order applied; a replacement is a ``re.sub`` template or function.
_TRANSLATIONS: Final[tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...]] = (
    (re.compile(r"(?<![?\w-])codec=NAME"), "--codec NAME"),
    (re.compile(r"\bopen(?: it)? with flag 'n'"), f"overwrite it with {START_ANEW}"),
    (
        re.compile(
            r"\b(?:open|open_config)\(\) got an unknown option '(?P<option>\w+)' for a (?P<scheme>'\w+') store.*"
        ),
        _unknown_option,
    ),
)


def for_cli(text: str) -> str:
    """``text`` (a library error message) with the Python wording replaced by the command line's."""
    for pattern, replacement in _TRANSLATIONS:
        text = pattern.sub(replacement, text)
    return text
