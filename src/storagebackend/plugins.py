"""One table of named classes, built in or from plugins: the backend, codec and transport tables are each one.

Built-ins are data (``"module:Class"`` strings, with the pip extra that
installs their dependency), imported only when first used, so a missing
optional dependency costs nothing until its name is asked for, and then gives
an install hint. Plugins come from an entry-point group, read once. Classes
registered at run time come last and win. Every loaded class is checked to be
a subclass of the table's base class.

No silent takeover (fsspec's ``clobber``): registering a name that is already
taken (built in, by a plugin, or registered before) is refused unless
``replace=True``, naming both; a plugin cannot take over a built-in name (it is
ignored, with a warning); two plugins that claim one name make it ambiguous,
and asking for it is an error naming both, until one is registered with
``replace=True``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, Literal, NamedTuple, TypeVar, cast

__all__ = ["Entry", "PluginTable", "Source"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Where a name comes from, weakest first: a plugin, a built-in, a class registered at run time.
Source = Literal["plugin", "built-in", "registered"]


class Entry(NamedTuple):
    """A class not imported yet: ``"package.module:Class"`` (an entry point's syntax)."""

    target: str
    #: The pip extra that installs its dependency, for the hint when the import fails.
    extra: str | None = None
    #: For a plugin: which entry point of which distribution (for messages).
    plugin: str | None = None


class _Ambiguous(NamedTuple):
    """A name that two or more plugins claim."""

    entries: tuple[Entry, ...]


class PluginTable(Generic[T]):
    """Name -> class of one kind (``"backend"``, ``"codec"``, ``"transport"``), lowest precedence first:
    plugins of ``group``, ``builtins``, classes registered at run time."""

    def __init__(self, kind: str, group: str, base: type, builtins: Mapping[str, Entry]) -> None:
        # ``base: type``, not ``type[T]``: the bases are abstract, which mypy refuses for ``type[T]``;
        # a table is made as ``PluginTable[Codec](..., Codec, ...)``.
        self.kind = kind
        self.group = group
        self.base = base
        self.builtins = dict(builtins)
        self._registered: dict[str, type[T] | Entry] = {}
        self._plugins: dict[str, Entry | _Ambiguous] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.kind}s: {', '.join(self.names())}>"

    # -- what is known --------------------------------------------------------------------------------

    def plugins(self) -> dict[str, Entry | _Ambiguous]:
        """The entry points of :attr:`group` by lower-cased name, read once; built-in names are ignored."""
        if self._plugins is None:
            found: dict[str, Entry | _Ambiguous] = {}
            for ep in entry_points(group=self.group):
                dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
                name = ep.name.lower()
                where = f"entry point '{ep.name} = {ep.value}' in group {self.group!r} of {dist!r}"
                entry = Entry(ep.value, None, where)
                if name in self.builtins:
                    log.warning("ignoring the %s: %r is built in", entry.plugin, name)
                    continue
                before = found.get(name)
                if before is None:
                    found[name] = entry
                    continue
                claims = before.entries if isinstance(before, _Ambiguous) else (before,)
                if all(claim.target != entry.target for claim in claims):
                    log.warning("two plugins claim the %s %r: %s", self.kind, name, _both(*claims, entry))
                    found[name] = _Ambiguous((*claims, entry))
            self._plugins = found
        return self._plugins

    def names(self) -> list[str]:
        """Every name of the table, sorted."""
        return sorted({*self.plugins(), *self.builtins, *self._registered})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.source(name) is not None

    def source(self, name: str) -> Source | None:
        """Where ``name`` comes from (the strongest source that has it), None if nowhere."""
        name = name.lower()
        if name in self._registered:
            return "registered"
        if name in self.builtins:
            return "built-in"
        if name in self.plugins():
            return "plugin"
        return None

    def registered(self) -> dict[str, type[T] | Entry]:
        """The classes registered at run time (a copy)."""
        return dict(self._registered)

    def origin(self, name: str) -> str:
        """Who provides ``name``, for messages: the built-in, the plugin(s) or the registered class."""
        name = name.lower()
        what = f"the {name!r} {self.kind}"
        registered = self._registered.get(name)
        if registered is not None:
            return f"{what} registered at run time ({_target(registered)})"
        builtin = self.builtins.get(name)
        if builtin is not None:
            return f"the built-in {name!r} {self.kind} ({builtin.target})"
        plugin = self.plugins().get(name)
        if isinstance(plugin, _Ambiguous):
            return f"{what} of two plugins ({_both(*plugin.entries)})"
        if plugin is not None:
            return f"{what} plugin ({plugin.plugin})"
        return f"no {name!r} {self.kind}"

    # -- registering ----------------------------------------------------------------------------------

    def register(self, name: str, target: type[T] | str, *, replace: bool = False, caller: str) -> None:
        """Make ``name`` mean ``target`` (a subclass of :attr:`base`, or ``"module:Class"``).

        Raises TypeError for anything else, ValueError if the name is taken by
        another class and ``replace`` is false (naming both).
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"{caller}() needs a {self.kind} name, got {name!r}")
        if isinstance(target, str):
            if ":" not in target:
                raise TypeError(f"{caller}() needs a {self.base.__name__} subclass or 'module:Class', got {target!r}")
            new: type[T] | Entry = Entry(target)
        elif isinstance(target, type) and issubclass(target, self.base):
            new = target
        else:
            raise TypeError(f"{caller}() needs a {self.base.__name__} subclass or 'module:Class', got {target!r}")
        name = name.lower()
        if not replace and self.taken(name, new):
            raise ValueError(
                f"{caller}(): {name!r} is already {self.origin(name)}; pass replace=True to replace it "
                f"with {_target(new)}"
            )
        self._registered[name] = new

    def taken(self, name: str, new: type[T] | Entry | None = None) -> bool:
        """Whether ``name`` already means something other than ``new``."""
        name = name.lower()
        if name in self._registered:
            return _target(self._registered[name]) != _target(new) if new is not None else True
        builtin = self.builtins.get(name)
        if builtin is not None:
            return new is None or builtin.target != _target(new)
        plugin = self.plugins().get(name)
        if isinstance(plugin, Entry):
            return new is None or plugin.target != _target(new)
        return plugin is not None

    # -- loading --------------------------------------------------------------------------------------

    def load(self, name: str) -> type[T] | None:
        """The class of ``name``, imported on first use; None if the table does not know it.

        Raises ValueError if its module cannot be imported (naming the plugin,
        or the extra to install), if it is not a subclass of :attr:`base`, or
        if two plugins claim the name.
        """
        name = name.lower()
        found: type[T] | Entry | _Ambiguous | None = self._registered.get(name)
        if found is None:
            found = self.builtins.get(name)
        if found is None:
            found = self.plugins().get(name)
        if found is None:
            return None
        if isinstance(found, _Ambiguous):
            raise ValueError(
                f"two plugins claim the {name!r} {self.kind}: {_both(*found.entries)}; uninstall one, or choose "
                "one by registering it at run time with replace=True"
            )
        if isinstance(found, type):
            return found
        loaded = self._import(name, found)
        if isinstance(loaded, type) and issubclass(loaded, self.base):
            return cast(type[T], loaded)
        origin = found.plugin or repr(found.target)
        raise ValueError(
            f"{self._what(name, found)} ({origin}) is not a storagebackend {self.base.__name__} class: {loaded!r}"
        )

    def _what(self, name: str, entry: Entry) -> str:
        return f"the {name!r} {self.kind}" + (" plugin" if entry.plugin else "")

    def _import(self, name: str, entry: Entry) -> object:
        """Import what an entry names; ValueError naming the plugin, or the extra to install, if that fails."""
        try:
            return EntryPoint(name, entry.target, "").load()
        except ImportError as exc:
            hint = f"; install it with: pip install 'pystoragebackend[{entry.extra}]'" if entry.extra else ""
            origin = f" ({entry.plugin})" if entry.plugin else ""
            raise ValueError(f"{self._what(name, entry)} cannot be loaded{origin}: {exc}{hint}") from exc
        except Exception as exc:
            if entry.plugin is None:
                raise  # a bug in storagebackend itself, or in a registered class's module: keep its traceback
            raise ValueError(
                f"{self._what(name, entry)} cannot be loaded ({entry.plugin}): {type(exc).__name__}: {exc}"
            ) from exc


def _target(value: type | Entry | None) -> str:
    """``module:Class`` for a class or an entry."""
    if value is None:
        return "nothing"
    if isinstance(value, Entry):
        return value.target
    return f"{value.__module__}:{value.__qualname__}"


def _both(*entries: Entry) -> str:
    return " and ".join(entry.plugin or entry.target for entry in entries)
