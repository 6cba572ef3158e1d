"""Every subject of a run: our stores (found at run time), the peers and the raw limits."""

from __future__ import annotations

from limits import LIMITS
from ours import our_stores
from peers import PEERS
from subject import Subject


def subjects(urls: list[str]) -> tuple[list[Subject], dict[str, str]]:
    """All subjects in table order, and the ones skipped here with the reason (name -> reason)."""
    found, skipped = our_stores(urls)
    found.extend(cls() for cls in (*PEERS, *LIMITS))
    runnable = []
    for subject in found:
        reason = subject.missing()
        if reason is None:
            runnable.append(subject)
        else:
            skipped[subject.name] = reason
    return runnable, skipped


def by_name(name: str, urls: list[str]) -> Subject:
    """The subject called ``name``; KeyError if there is none (or it cannot run here)."""
    for subject in subjects(urls)[0]:
        if subject.name == name:
            return subject
    raise KeyError(name)
