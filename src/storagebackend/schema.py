"""What a backend finds where a store should be, and the one error (and words) for each state.

SQLite, PostgreSQL and Redis look at their tables or keys, the codecs at a
file's format marker and version; each names what it found as a :class:`State`
and calls :func:`check_state`, which raises the error a user should see, worded
alike everywhere (API.md 7 and 8): a store that is not ours is never taken
over, one of a newer version asks for an upgrade, a damaged one names flag
``"n"``, a missing one is StoreNotFoundError under flags ``"w"`` and ``"r"``.
"""

from __future__ import annotations

import enum

from storagebackend.errors import CorruptStoreError, StoreNotFoundError

__all__ = ["State", "check_state", "version_state"]


class State(enum.Enum):
    """What is where a store should be."""

    #: Our marker and the version this release writes.
    OURS = "ours"
    #: Our marker and an older version: read as it is; a writable open migrates it.
    OLD = "old"
    #: Our marker and a version newer than this release reads.
    NEWER = "newer"
    #: Our marker, but parts of the store are missing or changed (or the version is no version).
    DAMAGED = "damaged"
    #: Something that is not a storagebackend store.
    FOREIGN = "foreign"
    #: Nothing at all.
    MISSING = "missing"


def version_state(version: object, newest: int) -> State:
    """The state of a store marked as ours with ``version``: OURS, OLD, NEWER; DAMAGED if no whole number >= 1."""
    if type(version) is not int or version < 1:
        return State.DAMAGED
    if version > newest:
        return State.NEWER
    return State.OURS if version == newest else State.OLD


def check_state(
    state: State,
    *,
    where: str,
    kind: str,
    newest: int = 0,
    version: object = None,
    detail: str = "",
    flag: str = "c",
    unit: str = "schema version",
) -> None:
    """Raise the error for a store in ``state`` that this release cannot open with ``flag``; return if it can.

    ``where`` names the store (a path or URL without password; "" if the caller
    adds it), ``kind`` its backend or format ("SQLite", "JSON"; "" for none);
    ``version`` and ``newest`` are for NEWER: the store's version and this release's;
    ``detail`` what was found, in a few words (for FOREIGN, naming the kind, and
    what to do). MISSING raises StoreNotFoundError under flags ``"w"`` and
    ``"r"``; NEWER, FOREIGN and DAMAGED raise CorruptStoreError (a caller that
    remakes a damaged store under flag ``"n"`` does so before); OURS and OLD return.
    """
    prefix = f"{where}: " if where else ""
    store = f"{kind} store" if kind else "store"
    if state is State.MISSING:
        if flag in ("w", "r"):
            found = f"{detail}; " if detail else ""
            raise StoreNotFoundError(f"{prefix}no such {store} ({found}flag {flag!r} needs an existing one)")
    elif state is State.NEWER:
        raise CorruptStoreError(
            f"{prefix}a {store} of storagebackend {unit} {version}, newer than {newest}, the newest this release "
            "reads: upgrade storagebackend"
        )
    elif state is State.FOREIGN:
        raise CorruptStoreError(f"{prefix}not a storagebackend store: {detail}")
    elif state is State.DAMAGED:
        raise CorruptStoreError(f"{prefix}a damaged {store}: {detail} (open it with flag 'n' to start it anew, empty)")
