"""Keeping passwords out of what a user sees: URLs, messages and whole exception chains.

One policy for every backend and transport that holds a password (FTP, FTPS,
PostgreSQL, Redis; API.md 7 and 8). A URL is shown with ``***`` for its
password (:func:`redact`); a driver's message loses the password, as typed and
in the spellings a URL or a ``repr`` gives it (:func:`scrub`); and a driver's
exception is cleaned *in place*, with every exception linked to it as
``__cause__`` or ``__context__``, before it becomes the cause of the error the
user sees (:func:`scrub_exception`).

In place, not as a clean copy: an error raised while the driver's exception is
being handled gets that exception as its ``__context__`` whatever ``from``
says (Python links it at the ``raise``), so a copy as the cause would leave the
original reachable. What is cleaned is every text a traceback or a ``repr``
shows: ``args``, ``__notes__``, the text fields of ``OSError`` and string
attributes a custom ``__str__`` formats. Local variables of the traceback's
frames are not texts and are not touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "RedactedError", "redact", "scrub", "scrub_exception"]

#: What stands where a password was.
MASK: Final = "***"
_DROPPED_BY_URLSPLIT: Final = str.maketrans("", "", "\t\r\n")
# The text fields of OSError (and so of socket and ssl errors): its str is made from them, not from args.
_OS_ERROR_FIELDS: Final = ("strerror", "filename", "filename2")


def redact(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``.

    The password runs from the first ``:`` after ``//user`` to the *last* ``@``,
    so one holding an unencoded ``@``, ``/``, ``?`` or ``#`` is hidden whole
    (at worst, a little more than the password is hidden). Tabs and line
    breaks are dropped first, as ``urlsplit`` drops them wherever they are:
    ``ftp:/\\r/user:pw@host`` has a password for it, so it has one here too.
    """
    url = url.translate(_DROPPED_BY_URLSPLIT)
    start = url.find("//")
    at = url.rfind("@")
    if start < 0 or at < start:
        return url
    colon = url.find(":", start + 2, at)
    if colon < 0 or "/" in url[start + 2 : colon]:
        return url
    return f"{url[: colon + 1]}{MASK}{url[at:]}"


def _spellings(secret: str) -> list[str]:
    """``secret`` as a message may quote it: as typed, percent-encoded (a URL, a form), escaped by ``repr``."""
    forms = {secret, repr(secret)[1:-1], repr(secret.encode("utf-8", "surrogatepass"))[2:-1]}
    for encode in (lambda text: quote(text, safe=""), quote, quote_plus):
        with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate: no URL holds it
            forms.add(encode(secret))
    return sorted(forms, key=len, reverse=True)  # the longest first: "p%40ss" before a shorter form inside it


def _secrets(secrets: Iterable[str | None]) -> list[str]:
    return [secret for secret in secrets if secret]


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret (None and "" are ignored) replaced by ``***``, in each of its spellings."""
    for secret in _secrets(secrets):
        for form in _spellings(secret):
            if form in text:
                text = text.replace(form, MASK)
    return text


class RedactedError(Exception):
    """Stands in a chain for an exception whose text showed a password and could not be cleaned in place.

    Its message is the original's type and scrubbed text; it keeps the original's
    ``__cause__`` and ``__context__`` (cleaned too).
    """


def _text(value: object) -> str | None:
    """``value``'s str and repr, for a search; None if computing them fails."""
    try:
        return f"{value}\n{value!r}"
    except Exception:
        return None


def _shows(exc: BaseException, secrets: list[str]) -> bool:
    """Whether the message, ``repr``, ``args`` or notes of ``exc`` show a secret (or cannot be told)."""
    text = _text(exc)
    if text is None:
        return True
    notes = getattr(exc, "__notes__", None)
    text += f"\n{exc.args!r}\n{notes!r}"
    return scrub(text, secrets) != text


def _clean(value: object, secrets: list[str]) -> object:
    """``value`` (a str, bytes, or anything whose text shows a secret) without the secrets."""
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, bytes):
        for secret in secrets:
            for form in _spellings(secret):
                value = value.replace(form.encode("utf-8", "surrogatepass"), MASK.encode())
        return value
    text = _text(value)
    if text is None or scrub(text, secrets) != text:
        return scrub(str(value) if text is not None else f"<{type(value).__name__}>", secrets)
    return value


def _clean_in_place(exc: BaseException, secrets: list[str]) -> None:
    """Remove the secrets from every text of ``exc`` that Python or a custom ``__str__`` shows."""
    args = tuple(_clean(arg, secrets) for arg in exc.args)
    if any(new is not old for new, old in zip(args, exc.args, strict=True)):
        exc.args = args
    if isinstance(exc, OSError):
        for name in _OS_ERROR_FIELDS:
            value = getattr(exc, name)
            if isinstance(value, (str, bytes)):
                setattr(exc, name, _clean(value, secrets))
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, list):
        notes[:] = [_clean(note, secrets) for note in notes]
    attributes = getattr(exc, "__dict__", {})
    for name, value in list(attributes.items()):
        if isinstance(value, (str, bytes)):
            attributes[name] = _clean(value, secrets)


def _stand_in(exc: BaseException, secrets: list[str]) -> RedactedError:
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    text = _text(exc)
    shown = scrub(str(exc), secrets) if text is not None else "(its text cannot be shown)"
    stand_in = RedactedError(f"{kind}: {shown}")
    stand_in.__cause__, stand_in.__context__ = exc.__cause__, exc.__context__
    stand_in.__suppress_context__ = exc.__suppress_context__
    return stand_in


def scrub_exception(exc: BaseException, secrets: Iterable[str | None]) -> BaseException:
    """Remove the secrets from ``exc`` and every exception its ``__cause__`` and ``__context__`` lead to.

    Each is cleaned in place (see the module docstring). One whose text still
    shows a secret is replaced in its chain by a :class:`RedactedError`; the
    return value is ``exc`` itself, or its stand-in if ``exc`` is such a one.
    Raise the user's error ``from`` the return value. Does nothing without a
    secret; runs only on the way to an error, never on a hot path.
    """
    wanted = _secrets(secrets)
    if not wanted:
        return exc
    settled: dict[int, BaseException] = {}  # id of each exception met -> itself, cleaned, or its stand-in
    waiting: list[BaseException] = []

    def settle(each: BaseException) -> BaseException:
        if id(each) not in settled:
            _clean_in_place(each, wanted)
            settled[id(each)] = _stand_in(each, wanted) if _shows(each, wanted) else each
            waiting.append(settled[id(each)])
        return settled[id(each)]

    top = settle(exc)
    while waiting:
        each = waiting.pop()
        for name in ("__cause__", "__context__"):
            linked = getattr(each, name)
            if linked is None:
                continue
            replacement = settle(linked)
            if replacement is not linked:
                suppress = each.__suppress_context__  # setting __cause__ would set it
                setattr(each, name, replacement)
                each.__suppress_context__ = suppress
    return top
