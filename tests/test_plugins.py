"""Plugins: a codec and a backend from another distribution, found through entry points.

tests/plugin_pkg is a real plugin package. Instead of a slow ``pip install``,
each test writes what an install leaves behind (a ``*.dist-info`` folder with
METADATA and entry_points.txt, generated from the package's pyproject.toml) and
puts it with the module on PYTHONPATH of a subprocess, whose entry-point cache
is therefore fresh.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

import storagebackend as sb
from helpers.clirun import error_line, run
from storagebackend.backends.memory import MemoryBackend
from storagebackend.cli.exits import ExitCode
from storagebackend.codecs.json import JSONCodec
from storagebackend.codecs.registry import CODECS
from storagebackend.registry import BACKENDS
from storagebackend.transports.local import LocalTransport
from storagebackend.transports.memory import MemoryTransport
from storagebackend.transports.registry import TRANSPORTS

PLUGIN = Path(__file__).with_name("plugin_pkg")


def install(site: Path, name: str, version: str, entry_points: dict[str, dict[str, str]]) -> None:
    """Write the dist-info folder an installer would write for these entry points."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    sections = (
        f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items())
        for group, entries in entry_points.items()
    )
    (info / "entry_points.txt").write_text("\n".join(sections))


def install_plugin_pkg(site: Path) -> dict[str, str]:
    """'Install' tests/plugin_pkg into ``site``; return the environment that sees it."""
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    install(site, project["name"], project["version"], project["entry-points"])
    return {"PYTHONPATH": os.pathsep.join([str(site), str(PLUGIN)])}


def python(code: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_plugin_codec_and_backend_open_by_extension_name_and_url(tmp_path: Path) -> None:
    env = install_plugin_pkg(tmp_path / "site")
    result = python(
        r"""
        import storagebackend as sb
        from storagebackend.registry import known_codecs, known_schemes

        assert "lines" in known_codecs() and {"dictdb", "ramfile"} <= set(known_schemes()), known_schemes()
        pairs = {"title": b"Hello world", "100% = k": b"a\tb\nc", "bin": b"\x00\xff%", "ж": b""}
        with sb.open("notes.lines") as store:                      # by extension
            uid = store.create(pairs).uid
            store.create({})
        text = open("notes.lines", encoding="ascii").read()
        assert text.startswith("storagebackend lines 1\n") and "\ttitle\tHello world\n" in text, text
        with sb.open("file:notes.lines", flag="r") as store:
            assert store.get_document(uid) == pairs and len(store) == 2
        with open("notes.lines", "rb") as src, open("notes.txt", "wb") as dst:
            dst.write(src.read())
        with sb.open("notes.txt?codec=lines", flag="r") as store:  # by name
            assert store.get_document(uid) == pairs
        with sb.open("notes.txt", codec="lines", flag="r") as store:
            assert uid in store
        """,
        tmp_path,
        env,
    )
    assert result.returncode == 0, result.stderr
    result = python(
        """
        import storagebackend as sb
        from sb_plugin_demo import DictBackend

        with sb.open("dictdb://shelf") as store:                   # by URL
            assert isinstance(store.backend, DictBackend)
            store["6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"] = {"k": b"v"}
        with sb.open("dictdb://shelf", flag="r") as store:
            assert dict(store["6f1c4e4a9e8b4c0f8a3b2d1e0f9a8b7c"]) == {"k": b"v"}
        try:
            sb.open("dictdb://other", flag="w")
        except sb.StoreNotFoundError as exc:
            assert "dictdb://other" in str(exc)
        else:
            raise AssertionError("flag 'w' on a missing dictdb store must raise")
        """,
        tmp_path,
        env,
    )
    assert result.returncode == 0, result.stderr


def test_a_plugin_transport_opens_file_stores_by_url(tmp_path: Path) -> None:
    """A new place for a file is a transport: the cached file backend, any codec, the transport's options."""
    env = install_plugin_pkg(tmp_path / "site")
    result = python(
        """
        import storagebackend as sb
        from storagebackend.backends.cached_file import CachedFileBackend
        from sb_plugin_demo import RamTransport

        with sb.open("ramfile://notes.yaml", locking=True) as store:
            assert type(store.backend) is CachedFileBackend and isinstance(store.backend.transport, RamTransport)
            uid = store.create({"title": b"Hello"}).uid
        assert RamTransport("notes.yaml").data.startswith(b"format: storagebackend"), RamTransport("notes.yaml").data
        with sb.open("ramfile://notes.yaml", flag="r") as store:
            assert store[uid] == {"title": b"Hello"} and "ramfile://notes.yaml" in repr(store), repr(store)
        with sb.open("ramfile://notes.lines") as store:          # a plugin codec on a plugin transport
            store.create({"k": b"v"})
        assert isinstance(sb.Transport.from_url("ramfile://x"), RamTransport)
        try:
            sb.open("ramfile://notes.json", timeout=3)
        except TypeError as exc:
            assert "'timeout' for a 'ramfile' store; known options: codec, lock_timeout, locking" in str(exc), exc
        else:
            raise AssertionError("timeout= is not an option of the ramfile transport")
        """,
        tmp_path,
        env,
    )
    assert result.returncode == 0, result.stderr


def test_the_command_line_uses_plugins_too(tmp_path: Path) -> None:
    env = install_plugin_pkg(tmp_path / "site")
    result = run("put", "--create", "notes.lines", "new", "title", "--value", "Hello", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    uid = result.stdout.decode().strip()
    result = run("copy", "notes.lines", "dictdb://copy", cwd=tmp_path, env=env)
    assert result.stdout.decode() == "copied 1 document (1 key) from notes.lines to dictdb://copy\n"
    result = run("show", "notes.lines", uid, cwd=tmp_path, env=env)
    assert result.stdout.decode() == f"{uid}  1 key\n  title = Hello\n"


def test_a_broken_plugin_is_named_and_does_not_break_the_others(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = install_plugin_pkg(site)
    install(
        site,
        "sb-broken-plugin",
        "2.0",
        {
            "storagebackend.backends": {
                "gone": "sb_no_such_module:Backend",
                "notabackend": "sb_plugin_demo:LinesCodec",
                "sqlite": "sb_plugin_demo:DictBackend",
            },
            "storagebackend.codecs": {"gonecodec": "sb_no_such_codec:Codec"},
        },
    )
    result = python(
        """
        import logging
        import storagebackend as sb
        from storagebackend.backends.sqlite import SQLiteBackend

        logging.basicConfig(level=logging.WARNING)
        def error(url):
            try:
                sb.open(url)
            except ValueError as exc:
                return str(exc)
            raise AssertionError(f"{url} opened")

        message = error("gone://x")
        assert "the 'gone' backend plugin cannot be loaded" in message, message
        assert "'sb-broken-plugin'" in message and "No module named 'sb_no_such_module'" in message, message
        message = error("notabackend://x")
        assert "is not a storagebackend Backend class" in message and "sb_plugin_demo:LinesCodec" in message, message
        with sb.open("x.lines") as store, sb.open("x.json") as other:   # the other plugins still work
            pass
        with sb.open("sqlite:x.db") as store:                            # built-ins cannot be taken over
            assert isinstance(store.backend, SQLiteBackend)
        message = error("x.unknown")
        assert "codec plugins that failed to load: the 'gonecodec' codec plugin cannot be loaded" in message, message
        """,
        tmp_path,
        env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("'gonecodec' codec plugin cannot be loaded") == 1  # logged once
    assert "ignoring the entry point 'sqlite = sb_plugin_demo:DictBackend'" in result.stderr
    result = run("ls", "gone://x", cwd=tmp_path, env=env)
    assert result.returncode == ExitCode.USAGE
    assert "the 'gone' backend plugin cannot be loaded" in error_line(result)
    result = run("--debug", "ls", "gone://x", cwd=tmp_path, env=env)  # the library's warnings, and a traceback
    assert "storagebackend: ignoring the entry point 'sqlite = sb_plugin_demo:DictBackend'" in result.stderr.decode()
    assert "Traceback" in result.stderr.decode()


def test_two_plugins_claiming_one_name_or_extension_are_named_both(tmp_path: Path) -> None:
    """No silent winner: the last plugin read does not take the name; asking for it names both."""
    site = tmp_path / "site"
    env = install_plugin_pkg(site)
    install(
        site,
        "sb-rival-plugin",
        "1.0",
        {
            "storagebackend.backends": {"dictdb": "sb_rival:RivalBackend", "ramfile": "sb_rival:RivalBackend"},
            "storagebackend.codecs": {"rival": "sb_rival:RivalCodec"},
        },
    )
    (site / "sb_rival.py").write_text(
        "from sb_plugin_demo import DictBackend, LinesCodec\n\n"
        "class RivalBackend(DictBackend):\n    pass\n\n"
        "class RivalCodec(LinesCodec):\n    name = 'rival'\n    extensions = ('.lines',)\n"
    )
    result = python(
        """
        import storagebackend as sb

        def error(url, **options):
            try:
                sb.open(url, **options)
            except ValueError as exc:
                return str(exc)
            raise AssertionError(f"{url} opened")

        for url, words in [
            ("dictdb://x", "two plugins claim the 'dictdb' backend"),
            ("ramfile://x", "two plugins claim the URL scheme 'ramfile'"),
            ("x.lines", "two codec plugins claim the extension '.lines'"),
        ]:
            message = error(url)
            assert words in message, message
            assert "'sb-plugin-demo'" in message and "'sb-rival-plugin'" in message, message
        with sb.open("x.lines", codec="rival") as store:           # named, either opens it
            store.create({})
        with sb.open("x.lines", codec="lines", flag="r") as store:
            assert len(store) == 1
        """,
        tmp_path,
        env,
    )
    assert result.returncode == 0, result.stderr


# -- registering at run time: no silent takeover ----------------------------------------------------------


@pytest.fixture
def forgetful(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a test registers is forgotten when it ends."""
    for table in (BACKENDS, CODECS, TRANSPORTS):
        monkeypatch.setattr(table, "_registered", {})


class Shelf(MemoryBackend):
    @classmethod
    def from_url(cls, url: str, *, flag: str = "c", **options: Any) -> Shelf:
        return cls(flag)


class Json2(JSONCodec):
    name = "json2"


class OtherJson(JSONCodec):
    """Another codec named json."""


@pytest.mark.usefixtures("forgetful")
def test_registering_a_taken_name_is_refused_naming_both_unless_replace(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="replace=True") as caught:
        sb.register_backend("sqlite", Shelf)
    assert "'sqlite' is already the built-in 'sqlite' backend (storagebackend.backends.sqlite:SQLiteBackend)" in str(
        caught.value
    )
    assert "test_plugins:Shelf" in str(caught.value) and "replace=True" in str(caught.value)
    with pytest.raises(ValueError, match="'json' is already the built-in 'json' codec"):
        sb.register_codec(OtherJson)
    with pytest.raises(
        ValueError, match=r"the extension '\.json' of Json2 already belongs to the built-in 'json' codec"
    ):
        sb.register_codec(Json2)
    with pytest.raises(ValueError, match="'ftp' is already the built-in 'ftp' transport"):
        sb.register_backend("ftp", Shelf)
    with pytest.raises(ValueError, match="'memory' is already the built-in 'memory' backend"):
        sb.register_transport("memory", MemoryTransport)
    with pytest.raises(ValueError, match="'memfile' is already the built-in 'memfile' transport"):
        sb.register_transport("memfile", LocalTransport)
    # nothing changed
    with sb.open(f"sqlite:///{tmp_path}/x.db") as store:
        assert type(store.backend).__name__ == "SQLiteBackend"
    with sb.open(tmp_path / "x.json") as store:
        assert type(store.backend.codec) is JSONCodec  # type: ignore[attr-defined]


@pytest.mark.usefixtures("forgetful")
def test_replace_true_takes_a_name_over(tmp_path: Path) -> None:
    sb.register_backend("shelf", Shelf)
    sb.register_backend("shelf", Shelf)  # the same class again: nothing to refuse
    with pytest.raises(ValueError, match="'shelf' is already the 'shelf' backend registered at run time"):
        sb.register_backend("shelf", MemoryBackend)
    sb.register_codec(Json2, replace=True)
    with sb.open(tmp_path / "x.json") as store:
        assert type(store.backend.codec) is Json2  # type: ignore[attr-defined]
    with sb.open(tmp_path / "y.json", codec="json") as store:
        assert type(store.backend.codec) is JSONCodec  # type: ignore[attr-defined]
    sb.register_transport("memory", MemoryTransport, replace=True)  # memory:// becomes a file store in memory
    with sb.open(f"memory://{tmp_path.name}.json") as store:
        assert isinstance(store.backend.transport, MemoryTransport)  # type: ignore[attr-defined]
    sb.register_backend("ftp", Shelf, replace=True)
    with sb.open("ftp://example.com/x.json") as store:
        assert type(store.backend) is Shelf


@pytest.mark.usefixtures("forgetful")
def test_registering_something_else_is_a_type_error() -> None:
    for call in (
        lambda: sb.register_backend("x", JSONCodec),  # type: ignore[arg-type]
        lambda: sb.register_backend("", Shelf),
        lambda: sb.register_backend("x", "no colon"),
        lambda: sb.register_codec(Shelf),  # type: ignore[arg-type]
        lambda: sb.register_transport("x", Shelf),  # type: ignore[arg-type]
        lambda: sb.register_transport(3, MemoryTransport),  # type: ignore[arg-type]
    ):
        with pytest.raises(TypeError):
            call()
