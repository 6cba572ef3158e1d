"""Security review (API.md section 7), as tests that fail if a finding comes back.

- No pickle, marshal or shelve, no eval/exec, no unsafe YAML anywhere in the
  library; YAML tags that build objects are refused, and nothing runs.
- SQL is never built from values: every statement a backend executes is a
  prepared text, and keys and values that look like SQL are stored as data.
- Passwords never show: not in ``repr``/``str`` of a store, not in any
  exception's message, ``repr`` or traceback (causes included), not in a log
  record, not on the command line's stderr with ``--debug``. Each for FTP, FTPS,
  PostgreSQL and Redis, for a server that is down, a wrong password, a
  malformed URL and one that works.
- New files follow the umask (stores, lock files, SQLite databases); a
  replaced file keeps its mode (test_local_files.py: test_a_replaced_file_keeps_its_mode).
"""

from __future__ import annotations

import ast
import logging
import os
import stat
import traceback
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

import storagebackend as sb
from helpers.clirun import run
from helpers.servers import drop_postgres_store, drop_redis_store, free_port
from helpers.support import available_codecs
from storagebackend import UID
from storagebackend.registry import codec_by_name
from storagebackend.urls import parse_server

SOURCE = Path(sb.__file__).parent
MODULES = sorted(SOURCE.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def _name(function: ast.expr) -> str:
    """``f`` for ``f(...)``, ``attr`` for ``x.attr(...)``."""
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        return function.attr
    return ""


# -- no code from data ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(SOURCE)) for p in MODULES])
def test_no_module_can_turn_data_into_code(path: Path) -> None:
    tree = _tree(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported = [node.module or ""]
        else:
            continue
        for name in imported:
            assert name.split(".")[0] not in {"pickle", "cPickle", "marshal", "shelve", "dill", "jsonpickle"}, name
    for call in _calls(tree):
        if isinstance(call.func, ast.Name):  # the builtins; re.compile and the like are fine
            assert call.func.id not in {"eval", "exec", "compile", "__import__"}, f"{path.name}:{call.lineno}"
        assert _name(call.func) not in {"unsafe_load", "load_all", "full_load"}, f"{path.name}:{call.lineno}"
        if _name(call.func) == "YAML":  # ruamel.yaml: only the safe loader and dumper
            typ = {keyword.arg: keyword.value for keyword in call.keywords}.get("typ")
            assert isinstance(typ, ast.Constant) and typ.value == "safe", f"{path.name}:{call.lineno}"
        if _name(call.func) in {"run", "Popen", "call", "check_output", "system"}:
            shell = {keyword.arg: keyword.value for keyword in call.keywords}.get("shell")
            assert shell is None or (isinstance(shell, ast.Constant) and shell.value is False)
            assert _name(call.func) != "system", f"{path.name}:{call.lineno}"


@pytest.mark.parametrize(
    "tagged",
    [
        '!!python/object/apply:os.system ["touch {marker}"]',
        "!!python/name:os.system",
        '!!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
        "!!python/object/apply:builtins.exec [\"open('{marker}', 'w')\"]",
        "!!set {{a, b}}",
        "!custom {marker}",
    ],
)
def test_yaml_tags_that_build_objects_are_refused_and_nothing_runs(tmp_path: Path, tagged: str) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "store.yaml"
    path.write_text(
        f"format: storagebackend\nversion: 1\ndocuments:\n  {'1' * 32}:\n    key: {tagged.format(marker=marker)}\n"
    )
    with pytest.raises(sb.CorruptStoreError, match=r"key 'key': expected a string or !!binary"):
        sb.open(path)
    assert not marker.exists()


SQL_PAYLOADS = {
    "'); DROP TABLE entries; --": b"x'; DELETE FROM documents; --",
    'k" OR "1"="1': b"1 OR 1=1",
    "%s %(x)s ? :name $1": b"%s",
    "key\\'; SELECT pg_sleep(9); --": b"\x00'\"\\",
}


def _statement_texts(path: Path) -> list[tuple[int, ast.expr]]:
    """The first argument of every execute/executemany call in a module."""
    return [
        (call.lineno, call.args[0])
        for call in _calls(_tree(path))
        if _name(call.func) in {"execute", "executemany"} and call.args
    ]


# Every module that runs SQL: each backend module (and its helpers) that calls execute().
SQL_MODULES = sorted(str(p.relative_to(SOURCE)) for p in SOURCE.glob("backends/*.py") if _statement_texts(p))


def test_the_sql_backends_run_their_sql_in_these_modules() -> None:
    assert {"backends/sqlite.py", "backends/postgresql.py"} <= set(SQL_MODULES)


@pytest.mark.parametrize("module", SQL_MODULES)
def test_sql_is_never_formatted_with_values(module: str) -> None:
    """Statements are literal texts or prepared ones (psycopg ``sql.SQL`` with quoted identifiers),
    never an f-string, ``%`` or ``+`` at the call: values travel as bound parameters."""
    statements = _statement_texts(SOURCE / module)
    assert statements
    for line, text in statements:
        assert isinstance(text, (ast.Constant, ast.Name, ast.Subscript)), f"{module}:{line}: {ast.unparse(text)}"
        if isinstance(text, ast.Constant):
            assert isinstance(text.value, str)


def test_sql_looking_keys_and_values_are_data_in_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    uid = UID("5" * 32)
    with sb.open(url) as store:
        store[uid] = SQL_PAYLOADS
        store.create({"other": b"document"})
    with sb.open(url, flag="r") as store:
        assert store[uid] == SQL_PAYLOADS
        assert len(store) == 2


def test_sql_looking_keys_and_values_are_data_on_servers(stores: object) -> None:
    uid = UID("5" * 32)
    url = stores.url()  # type: ignore[attr-defined]
    with sb.open(url) as store:
        store[uid] = SQL_PAYLOADS
        store.create({"other": b"document"})
    with sb.open(url, flag="r") as store:
        assert store[uid] == SQL_PAYLOADS
        assert len(store) == 2


# -- passwords never show ----------------------------------------------------------------------------

SECRET = "Pw7xQ s3cr@t:/%?#ж"  # characters that must be percent-encoded; "Pw7xQ" survives any encoding
SCHEMES = ["ftp", "ftps", "postgresql", "redis"]
FAILURES = ["unreachable", "malformed-port", "unknown-option", "wrong-password"]


def _real_url(request: pytest.FixtureRequest, scheme: str) -> str:
    """The URL of a store on a real server of ``scheme``, with that server's real password."""
    name = "sb_" + request.node.name.encode().hex()[:16]
    if scheme in ("ftp", "ftps"):
        return request.getfixturevalue(f"{scheme}_server").url(f"security/{name}.json")  # type: ignore[no-any-return]
    if scheme == "postgresql":
        url = request.getfixturevalue("postgres_url")
        request.addfinalizer(lambda: drop_postgres_store(url, name))
        return f"{url}?table={name}"
    url = request.getfixturevalue("redis_url")
    request.addfinalizer(lambda: drop_redis_store(url, name))
    return f"{url}?prefix={name}"


def _options(request: pytest.FixtureRequest, scheme: str) -> dict[str, object]:
    return {"ssl_context": request.getfixturevalue("tls_context")} if scheme == "ftps" else {}


def _with_password(url: str, password: str, port: str | None = None, query: str | None = None) -> str:
    server = parse_server(url)
    auth = f"{quote(server.user or 'user', safe='')}:{quote(password, safe='')}"
    rest = "&".join(f"{k}={v}" for k, v in server.query.items()) if query is None else query
    return f"{server.scheme}://{auth}@{server.host}:{port or server.port}/{quote(server.path)}?{rest}"


PATHS = {"ftp": "dir/x.json", "ftps": "dir/x.json", "postgresql": "postgres", "redis": "0"}


def _failing_url(request: pytest.FixtureRequest, scheme: str, failure: str) -> str:
    nowhere = f"{scheme}://127.0.0.1:{free_port()}/{PATHS[scheme]}"
    if failure == "unreachable":
        return _with_password(nowhere, SECRET)
    if failure == "malformed-port":
        return _with_password(nowhere, SECRET, port="99999")
    if failure == "unknown-option":
        return _with_password(nowhere, SECRET, query="colour=blue")
    return _with_password(_real_url(request, scheme), SECRET)


def _hidden(password: str, texts: list[str]) -> None:
    for text in texts:
        assert password not in text
        assert quote(password, safe="") not in text
        if "Pw7xQ" in password:
            assert "Pw7xQ" not in text, text


def _shown(exc: BaseException) -> list[str]:
    """Every way an exception reaches a user: message, repr, the whole traceback with its causes."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        texts += [str(cause), repr(cause), repr(cause.args)]
        cause = cause.__cause__ or cause.__context__
    return texts


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_failing_open_never_shows_the_password(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, scheme: str, failure: str
) -> None:
    url = _failing_url(request, scheme, failure)
    with caplog.at_level(logging.DEBUG), pytest.raises((sb.StorageError, ValueError)) as caught:
        sb.open(url, timeout=5, **_options(request, scheme))
    expected = ValueError if failure in ("malformed-port", "unknown-option") else sb.BackendUnavailableError
    if failure == "wrong-password":
        expected = sb.AuthenticationError  # the server was reached, and refused the credentials (API.md 8)
    assert isinstance(caught.value, expected), repr(caught.value)
    _hidden(SECRET, [*_shown(caught.value), caplog.text, *(record.getMessage() for record in caplog.records)])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_an_open_store_never_shows_the_password(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, scheme: str
) -> None:
    url = _real_url(request, scheme)
    password = parse_server(url).password
    assert password
    with caplog.at_level(logging.DEBUG):
        store = sb.open(url, **_options(request, scheme))
        document = store.create({"k": b"v"})
        store.sync()
        texts = [repr(store), str(store), repr(store.backend), store.backend.describe(), repr(document)]
        transport = getattr(store.backend, "transport", None)
        if transport is not None:
            texts += [repr(transport), transport.describe()]
        store.close()
    texts += [repr(store), caplog.text]
    _hidden(password, texts)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_command_line_never_shows_the_password_even_with_debug(tmp_path: Path, scheme: str) -> None:
    url = _with_password(f"{scheme}://127.0.0.1:{free_port()}/{PATHS[scheme]}", SECRET)
    result = run("--debug", "ls", url, cwd=tmp_path)
    assert result.returncode == 5, result.stderr.decode()
    assert b"Traceback" in result.stderr  # --debug shows the traceback, and still no password
    _hidden(SECRET, [result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")])


# -- file modes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
@pytest.mark.parametrize("name", [f"store{codec_by_name(c).extensions[0]}" for c in available_codecs()] + ["store.db"])
def test_new_files_follow_the_umask(tmp_path: Path, name: str, umask: int) -> None:
    old = os.umask(umask)
    try:
        with sb.open(tmp_path / name) as store:
            store.create({"k": b"v"})
            store.sync()
            modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.iterdir()}
    finally:
        os.umask(old)
    assert name in modes
    assert modes == dict.fromkeys(modes, 0o666 & ~umask)  # the store, its lock file, SQLite's -wal and -shm
