"""The one check of option values: a table of option name -> kind, used by ``open`` and ``open_config``.

Values are checked once, at open, before anything is created, and backends
receive them checked (seconds as ``float``, limits as ``int``). A wrong type is
a TypeError, a wrong value a ValueError, each naming the option. ``open_config``
also reads numbers from decimal strings, since config files and the environment
give strings; ``open`` takes only real numbers. A new kind of option is a
:class:`Kind` (what it must be, a check, and how text spells it, if it may) and a
row in :data:`OPTION_KINDS`.
"""

from __future__ import annotations

import math
import numbers
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, cast
from urllib.parse import urlsplit

from storagebackend.compression import COMPRESSIONS
from storagebackend.redaction import redact

__all__ = ["OPTION_KINDS", "Kind", "check_option", "check_options"]

#: A decimal number as config files write it: ``5``, ``2.5``, ``.5``, ``1e3`` (sign allowed, to be refused by range).
_DECIMAL: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WHOLE: Final = re.compile(r"[+-]?\d+")
_INFINITY: Final = ("inf", "infinity")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
#: A region name as botocore accepts it (a host label): ``us-east-1``, ``eu-central-2``, ``garage``.
_REGION: Final = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")


def _got(value: object) -> str:
    """How a refused value appears in a message: its type and a short repr."""
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"got {type(value).__name__} {shown}"


@dataclass(frozen=True)
class Kind:
    """One kind of option value: what it must be, its check, and how a config string spells it.

    ``check_value`` returns the value as backends receive it, or raises
    TypeError / ValueError whose message says what it got (``"got str '3'"``);
    ``parse_text`` turns a config string into a value for ``check_value``
    (ValueError if it cannot), or is None where text is no way to give it.
    """

    expected: str
    check_value: Callable[[object], object]
    parse_text: Callable[[str], object] | None = None

    def check(self, value: object, *, from_text: bool = False) -> Any:
        """``value`` checked (read from text first if ``from_text``); TypeError or ValueError saying why not."""
        try:
            if from_text and self.parse_text is not None and isinstance(value, str):
                return self._check_text(value, self.parse_text)
            return self.check_value(value)
        except TypeError as exc:
            raise TypeError(f"must be {self.expected}, {exc}") from None
        except ValueError as exc:
            raise ValueError(f"must be {self.expected}, {exc}") from None

    def _check_text(self, text: str, parse: Callable[[str], object]) -> Any:
        """A value read from ``text`` and checked; a refusal shows the text as written."""
        value = parse(text)
        try:
            return self.check_value(value)
        except ValueError:
            raise ValueError(f"got the text {text!r}") from None


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(_got(value))
    try:
        seconds = float(value)
    except OverflowError:  # an int or Fraction beyond float's range: longer than anyone waits
        seconds = math.inf if cast(float, value) > 0 else -math.inf
    if not seconds >= 0:  # nan compares false too
        raise ValueError(_got(value))
    return seconds


def _seconds_text(text: str) -> float:
    word = text.strip()
    if word.lower().lstrip("+") in _INFINITY:
        return math.inf
    if not _DECIMAL.fullmatch(word):
        raise ValueError(f"got the text {text!r}, which is not a decimal number")
    return float(word)


def _limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(_got(value))
    number = int(value)
    if number < 1:
        raise ValueError(_got(value))
    return number


def _whole_text(text: str) -> int:
    word = text.strip()
    if not _WHOLE.fullmatch(word):
        raise ValueError(f"got the text {text!r}, which is not a whole decimal number")
    return int(word)


def _port(value: object) -> int:
    number = _limit(value)
    if number > 65535:
        raise ValueError(_got(value))
    return number


def _ssl_context(value: object) -> ssl.SSLContext | None:
    if value is not None and not isinstance(value, ssl.SSLContext):
        raise TypeError(f"got {type(value).__name__}")
    return value


def _encryption_key(value: object) -> object:
    # Imported here: cryptography loads only for a store that is encrypted. The keyring's own
    # messages say what was given (type, length) and never the key itself.
    from storagebackend.keyring import Keyring

    return None if value is None else Keyring.from_option(value)


def _compression(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"got {type(value).__name__}")
    if value not in COMPRESSIONS:
        raise ValueError(_got(value))
    return value


def _endpoint_url(value: object) -> str | None:
    """An S3-compatible server's address: ``http(s)://host[:port][/path]``, never with a user or password."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"got {type(value).__name__}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  a port that is not a number raises here
    except ValueError:
        parts = None
    if parts is not None and "@" in parts.netloc:  # shown nowhere: what stands before the @ may be a password
        raise ValueError(
            "got a URL with credentials before '@': give them as access_key_id and secret_access_key, "
            "or through the AWS environment or config files"
        )
    shown = redact(value)
    if parts is None:
        raise ValueError(f"got the malformed URL {shown!r}")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"got {shown!r}")
    if parts.query or parts.fragment or _CONTROL.search(value):
        raise ValueError(f"got {shown!r}, which has a query, a fragment or a control character")
    return value


def _region(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"got {type(value).__name__}")
    if not _REGION.fullmatch(value):
        raise ValueError(_got(value))
    return value


def _credential(value: object) -> str | None:
    """A credential (never shown in a message: only its type, or that it is empty)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"got {type(value).__name__}")
    if not value or value != value.strip() or _CONTROL.search(value):
        raise ValueError("got an empty str, or one with spaces at an end or a control character")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(_got(value))
    return value


#: The words ``configparser`` reads as booleans.
_BOOL_WORDS: Final = {
    "1": True,
    "yes": True,
    "true": True,
    "on": True,
    "0": False,
    "no": False,
    "false": False,
    "off": False,
}


def _bool_text(text: str) -> bool:
    word = _BOOL_WORDS.get(text.strip().lower())
    if word is None:
        raise ValueError(f"got the text {text!r}, which is not one of {', '.join(_BOOL_WORDS)}")
    return word


SECONDS: Final = Kind("a number of seconds >= 0 (math.inf: no limit)", _seconds, _seconds_text)
LIMIT: Final = Kind("a whole number >= 1", _limit, _whole_text)
PORT: Final = Kind("a port number from 1 to 65535", _port, _whole_text)
SSL_CONTEXT: Final = Kind("an ssl.SSLContext (or None for the system's trusted certificates)", _ssl_context)
ENCRYPTION_KEY: Final = Kind(
    "a 32-byte bytes key, a non-empty str passphrase, or a non-empty list of those (or None: not encrypted)",
    _encryption_key,
)
COMPRESSION: Final = Kind(
    f"one of {', '.join(map(repr, COMPRESSIONS))} (or None: as the file or its extension has it)", _compression
)
BOOL: Final = Kind("True or False", _bool, _bool_text)
ENDPOINT_URL: Final = Kind(
    "an http:// or https:// URL of an S3-compatible server, without user or password (or None: AWS)", _endpoint_url
)
REGION: Final = Kind("an AWS region name such as 'us-east-1' (or None: from the AWS config)", _region)
CREDENTIAL: Final = Kind("a non-empty str (or None: from the AWS environment and config files)", _credential)

#: Every option whose value is checked at open, and its kind. Options not listed here
#: (``codec``, ``table``, ``prefix``, a plugin's own) are checked by the backend that takes them.
OPTION_KINDS: Final[Mapping[str, Kind]] = MappingProxyType(
    {
        "lock_timeout": SECONDS,
        "timeout": SECONDS,
        "max_key_length": LIMIT,
        "max_value_size": LIMIT,
        "ssl_context": SSL_CONTEXT,
        "encryption_key": ENCRYPTION_KEY,
        "compress": COMPRESSION,
        "journal": BOOL,
        "port": PORT,  # a part of open_config's server URL
        "endpoint_url": ENDPOINT_URL,
        "region": REGION,
        "access_key_id": CREDENTIAL,
        "secret_access_key": CREDENTIAL,
        "session_token": CREDENTIAL,
    }
)


def check_option(name: str, value: object, *, from_text: bool = False) -> Any:
    """``value`` of option ``name`` as backends receive it; TypeError or ValueError naming the option.

    ``from_text`` (``open_config``) also reads numbers from decimal strings.
    """
    kind = OPTION_KINDS.get(name)
    if kind is None:
        return value
    try:
        return kind.check(value, from_text=from_text)
    except TypeError as exc:
        raise TypeError(f"{name} {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from None


def check_options(options: Mapping[str, Any], *, from_text: bool = False) -> dict[str, Any]:
    """Every option checked by :func:`check_option`, in a new dict."""
    return {name: check_option(name, value, from_text=from_text) for name, value in options.items()}
