"""The one redaction policy (``storagebackend.redaction``): texts, URLs and exception chains without the password.

The servers' own failures are in test_secrets.py and test_security.py; these
cover the shapes of exception a driver may raise that those servers do not:
an OSError (its message is made from its fields, not its args), notes, a
custom ``__str__``, a chain that loops.
"""

from __future__ import annotations

import traceback
from urllib.parse import quote, quote_plus

from storagebackend.redaction import MASK, RedactedError, redact, scrub, scrub_exception

SECRET = "Pw7xQ s3cr@t:/%?#ж"


def _everything(exc: BaseException) -> str:
    texts = []
    waiting: list[BaseException | None] = [exc]
    seen: list[BaseException] = []
    while waiting:
        each = waiting.pop()
        if each is None or any(each is other for other in seen):
            continue
        seen.append(each)
        texts += [str(each), repr(each), repr(each.args), repr(getattr(each, "__notes__", None))]
        texts.append("".join(traceback.format_exception(each)))
        waiting += [each.__cause__, each.__context__]
    return "\n".join(texts)


def _assert_clean(text: str) -> None:
    for form in (SECRET, quote(SECRET, safe=""), quote(SECRET), quote_plus(SECRET), "Pw7xQ"):
        assert form not in text, text


def test_scrub_hides_every_spelling_of_the_password() -> None:
    text = f"a {SECRET} b {quote(SECRET, safe='')} c {quote_plus(SECRET)} d {SECRET!r} e {SECRET.encode()!r}"
    _assert_clean(scrub(text, [None, "", SECRET]))
    assert scrub("nothing here", [SECRET]) == "nothing here"
    assert scrub(f"x{SECRET}y", [None]) == f"x{SECRET}y"


def test_redact_hides_the_password_of_a_url() -> None:
    assert redact(f"ftp://user:{SECRET}@host/x.json") == f"ftp://user:{MASK}@host/x.json"
    assert redact("ftp://host/x.json") == "ftp://host/x.json"


def test_every_linked_exception_is_cleaned_in_place() -> None:
    class Chatty(Exception):
        def __init__(self, reply: str) -> None:
            super().__init__("refused")
            self.reply = reply

        def __str__(self) -> str:
            return self.reply

    os_error = OSError(13, f"denied for {SECRET}", f"/home/{SECRET}")
    os_error.add_note(f"while sending {quote(SECRET, safe='')}")
    try:
        try:
            raise os_error
        except OSError:
            raise ValueError(f"reply: {SECRET}") from Chatty(f"530 {SECRET}")
    except ValueError as exc:
        error = exc
    assert error.__context__ is os_error
    result = scrub_exception(error, [SECRET])
    assert result is error  # cleaned in place: the same objects stay linked
    assert error.__context__ is os_error
    assert os_error.errno == 13 and MASK in os_error.strerror  # type: ignore[operator]
    _assert_clean(_everything(error))


def test_an_exception_that_cannot_be_cleaned_is_replaced_in_its_chain() -> None:
    class Stubborn(Exception):
        def __str__(self) -> str:
            return f"always {SECRET}"

    cause = Stubborn()
    error = RuntimeError("mapped")
    error.__cause__ = cause
    assert scrub_exception(error, [SECRET]) is error
    assert isinstance(error.__cause__, RedactedError)
    assert "Stubborn" in str(error.__cause__)
    _assert_clean(_everything(error))
    alone = scrub_exception(Stubborn(), [SECRET])
    assert isinstance(alone, RedactedError)
    _assert_clean(_everything(alone))


def test_a_chain_that_loops_is_walked_once() -> None:
    first, second = ValueError(SECRET), ValueError(SECRET)
    first.__context__, second.__context__ = second, first
    assert scrub_exception(first, [SECRET]) is first
    assert first.args == (MASK,) and second.args == (MASK,)


def test_without_a_password_nothing_changes() -> None:
    error = ValueError("text")
    assert scrub_exception(error, [None, ""]) is error
    assert error.args == ("text",)
