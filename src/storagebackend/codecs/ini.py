"""INI codec (stdlib ``configparser``): one section per document, one line per value.

    [storagebackend]
    format = storagebackend
    version = 2

    [6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c]
    Title = Hello world
    body = "first line\\nsecond line"
    blob = base64:3q2+7w==
    key\\{20}with\\{3d}escapes = yes

    # end of store

configparser strips values and keys and joins indented lines, so both sides
are escaped where it needs it:

- Values. Text that is printable, without spaces at either end and not
  starting with ``"`` or ``base64:`` is written as it is. Other text is written
  in double quotes with backslash escapes (``\\\\ \\" \\n \\r \\t \\xHH \\uHHHH
  \\UHHHHHHHH``). Bytes that are not UTF-8 are ``base64:`` and their base64.
- Keys keep their case as written (``Title`` stays ``Title``). ``\\`` is ``\\\\``;
  ``=``, ``:``, characters that are not printable, a leading ``[ # ;`` or space
  and a trailing space are ``\\{hex code point}``.

The escaped forms never occur unescaped, so reading is unambiguous; the file
reads with ``configparser.ConfigParser(interpolation=None)`` whose
``optionxform`` is ``str`` (the default one lower-cases keys).

The file ends with the comment line ``# end of store`` and a line break
(format version 2; only blank and comment lines may follow): a file cut
anywhere lacks it and is refused. Version 1 files, which the first release
wrote without it, are read as before, with their escape of upper-case letters
(``\\title`` is ``Title``).
"""

from __future__ import annotations

import base64
import configparser
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar, Final

from storagebackend.codecs.base import (
    FORMAT_MARKER,
    FORMAT_VERSION,
    Documents,
    FragmentCodec,
    as_text,
    base64_value,
    check_end_line,
    check_header,
    check_key,
    new_uid,
    text_value,
    utf8_text,
)
from storagebackend.errors import CorruptStoreError

__all__ = ["INICodec"]

_META: Final = "storagebackend"  # the section that holds the marker and the version
_HEAD: Final = f"[{_META}]\nformat = {FORMAT_MARKER}\nversion = {FORMAT_VERSION}\n".encode()
_BINARY: Final = "base64:"
_END_LINE: Final = "# end of store"
_END: Final = f"\n{_END_LINE}\n".encode()

# -- keys ------------------------------------------------------------------------------------

_KEY_SPECIAL: Final = re.compile(r"[=:\\]|^[\[#; ]| $")
_KEY_ESCAPE: Final = re.compile(r"\\(?:\{([0-9a-fA-F]{1,6})\}|(.?))", re.DOTALL)


def _escape_key(key: str) -> str:
    """``key`` as configparser keeps it exactly (see the module docstring)."""
    if key.isprintable() and not _KEY_SPECIAL.search(key):
        return key
    out: list[str] = []
    last = len(key) - 1
    for index, char in enumerate(key):
        if char == "\\":
            out.append("\\\\")
        elif (
            char in "=:" or not char.isprintable() or (index == 0 and char in "[#; ") or (index == last and char == " ")
        ):
            out.append(f"\\{{{ord(char):x}}}")
        else:
            out.append(char)
    return "".join(out)


def _unescape_key(raw: str, uid: str, version: int) -> str:
    """A key as written, unescaped: ``\\\\``, ``\\{hex}``, and in version 1 ``\\`` before a lower-case letter
    for its upper case; CorruptStoreError for any other escape."""
    if "\\" not in raw:
        return raw

    def replace(match: re.Match[str]) -> str:
        code, escape = match.groups()
        if code is not None:
            if int(code, 16) <= 0x10FFFF:
                return chr(int(code, 16))
        elif escape == "\\":
            return "\\"
        elif len(escape) == 1 and version == 1:
            upper = escape.upper()
            if upper != escape and len(upper) == 1 and upper.lower() == escape:
                return upper
        raise CorruptStoreError(f"document {uid}: key {raw[:40]!r} holds an invalid escape {match.group()!r}")

    return _KEY_ESCAPE.sub(replace, raw)


# -- values ----------------------------------------------------------------------------------

_QUOTE_TABLE: Final[dict[int, str]] = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)},
    ord("\\"): "\\\\",
    ord('"'): '\\"',
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
}
_SIMPLE_ESCAPES: Final = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
_VALUE_ESCAPE: Final = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.?)", re.DOTALL)


def _escape_char(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _encode_value(value: bytes) -> str:
    text = as_text(value)
    if text is None:
        return _BINARY + base64.b64encode(value).decode("ascii")
    if text.isprintable() and not (
        text.startswith((" ", '"', _BINARY)) or text.endswith(" ")
    ):  # configparser keeps it as it is
        return text
    escaped = text.translate(_QUOTE_TABLE)
    if not escaped.isprintable():  # non-printable characters beyond ASCII, e.g. U+2028
        escaped = "".join(char if char.isprintable() else _escape_char(char) for char in escaped)
    return f'"{escaped}"'


def _decode_value(raw: str, uid: str, key: str) -> bytes:
    if raw.startswith(_BINARY):
        return base64_value(raw[len(_BINARY) :], uid, key)
    if not raw.startswith('"'):
        return text_value(raw, uid, key)
    if len(raw) < 2 or not raw.endswith('"'):
        raise CorruptStoreError(f"document {uid}, key {key[:40]!r}: a quoted value without its closing quote")
    body = raw[1:-1]

    def replace(match: re.Match[str]) -> str:
        escape = match.group(1)
        simple = _SIMPLE_ESCAPES.get(escape)
        if simple is not None:
            return simple
        if len(escape) > 1:
            code = int(escape[1:], 16)
            if code <= 0x10FFFF:
                return chr(code)
        raise CorruptStoreError(f"document {uid}, key {key[:40]!r}: invalid escape \\{escape} in a quoted value")

    return text_value(_VALUE_ESCAPE.sub(replace, body) if "\\" in body else body, uid, key)


def _parse_error(exc: configparser.Error) -> str:
    """What configparser found wrong, and on which line."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"line {exc.lineno} comes before any [section]"
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        lineno, line = exc.errors[0]
        return f"cannot parse line {lineno}: {line.strip()[:60]!r}"
    if isinstance(exc, configparser.DuplicateOptionError):
        return f"section [{exc.section}]: the key {exc.option[:40]!r} appears twice (line {exc.lineno})"
    if isinstance(exc, configparser.DuplicateSectionError):
        return f"the section [{exc.section}] appears twice (line {exc.lineno})"
    return exc.message


class INICodec(FragmentCodec):
    """Stores as an INI file that configparser reads."""

    name: ClassVar[str] = "ini"
    extensions: ClassVar[tuple[str, ...]] = (".ini", ".cfg")

    def encode_document(self, uid: str, document: Mapping[str, bytes]) -> bytes:
        lines = [f"\n[{uid}]\n"]
        for key, value in document.items():
            encoded = _encode_value(value)
            lines.append(f"{_escape_key(key)} = {encoded}\n" if encoded else f"{_escape_key(key)} =\n")
        return "".join(lines).encode()

    def join(self, fragments: Sequence[bytes]) -> bytes:
        return b"".join([_HEAD, *fragments, _END])

    def decode(self, data: bytes) -> Documents:
        text = utf8_text(data, "INI")
        parser = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=", ":"))
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string(text, source="the INI file")
        except configparser.Error as exc:
            raise CorruptStoreError(f"not an INI store: {_parse_error(exc)}") from None
        if parser.defaults():
            raise CorruptStoreError(f"INI store with a [{parser.default_section}] section: not a storagebackend store")
        if not parser.has_section(_META):
            raise CorruptStoreError(f"not a storagebackend INI store: the format marker section [{_META}] is missing")
        meta = parser[_META]
        version: object = meta.get("version")
        if type(version) is str and version.isascii() and version.isdigit() and len(version) < 10:
            version = int(version)
        version = check_header(meta.get("format"), version, "INI")
        if version >= 2:
            check_end_line(text, _END_LINE, "INI", ("#", ";"))
        documents: Documents = {}
        for section in parser.sections():
            if section == _META:
                continue
            uid = new_uid(documents, section, f"section [{section[:40]}]")
            document: dict[str, bytes] = {}
            for raw_key, raw_value in parser.items(section, raw=True):
                key = check_key(_unescape_key(raw_key, uid, version), uid)
                if key in document:
                    raise CorruptStoreError(f"document {uid}: the key {key[:40]!r} appears twice")
                document[key] = _decode_value(raw_value, uid, key)
            documents[uid] = document
        return documents
