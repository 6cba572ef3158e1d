"""Cached file stores in S3 (API.md sections 2, 7, 8 and 11), on a real S3 API server (moto's standalone server).

URLs and options, the Transport contract and the conformance machine,
conditional writes instead of locks, credentials that are refused or never
show, and servers that stop, die or drop a connection in the middle of a sync.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, settings

import storagebackend as sb
from helpers.s3_server import REGION, S3Server
from helpers.servers import free_port
from storagebackend.retrying import RETRY
from storagebackend.storage import Storage
from storagebackend.testing import StorageMachine, TransportTests
from storagebackend.transports.base import Transport
from storagebackend.transports.s3 import S3Transport

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def body(server: S3Server, bucket: str, key: str) -> bytes | None:
    """The object's bytes as the server has them (None: missing), read with a client of the test's own."""
    client = server.client()
    try:
        reply = client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        return None
    return bytes(reply["Body"].read())


def keys(server: S3Server, bucket: str) -> list[str]:
    """Every key in the bucket, sorted."""
    listed = server.client().list_objects_v2(Bucket=bucket)
    return sorted(entry["Key"] for entry in listed.get("Contents", []))


# -- URLs and options (API.md sections 2 and 11) ----------------------------------------------------------------


def test_url_parts() -> None:
    transport = S3Transport.from_url(
        "s3://my-bucket/dir/x%20y%3F.json?codec=yaml",
        region="eu-west-1",
        access_key_id="AKIA1",
        secret_access_key=SECRET,
    )
    assert (transport.bucket, transport.key, transport.path) == ("my-bucket", "dir/x y?.json", "dir/x y?.json")
    assert transport.query == {"codec": "yaml"}
    assert transport.describe() == "s3://my-bucket/dir/x y?.json?codec=yaml"
    assert (transport.remote, transport.supports_locking, transport.supports_journal) == (True, False, False)
    local = S3Transport.from_url("s3://b.example/n.json", endpoint_url="http://127.0.0.1:9000", timeout=math.inf)
    assert local.describe() == "s3://b.example/n.json at http://127.0.0.1:9000"
    for text in (repr(transport), transport.describe()):
        assert SECRET not in text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://", "names no bucket"),
        ("s3:///dir/x.json", "names no bucket"),
        ("s3:bucket/x.json", "names no bucket"),
        ("s3://bucket", "names no object"),
        ("s3://bucket/dir/", "names no object"),
        ("s3://My-Bucket/x.json", "lower case"),
        ("s3://bucket:9000/x.json", "no port"),
        ("s3://bu cket/x.json", "not an S3 bucket name"),
        ("s3://bucket/" + "k" * 1025, "longer than S3's 1024 bytes"),
        ("s3://bucket/x.json?colour=red", "unknown query parameter 'colour'"),
        ("s3://bucket/x.unknown", "cannot tell the format"),
        ("s3://bucket/x.json#frag", "fragment"),
    ],
)
def test_bad_s3_urls(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sb.open(url, region=REGION, access_key_id="AKIA1", secret_access_key=SECRET)


@pytest.mark.parametrize("url", ["s3://AKIA1:wJalr%2FsecretKEY@bucket/x.json", "s3://wJalrsecretKEY@bucket/x.json"])
def test_credentials_never_go_in_the_url(url: str) -> None:
    """A URL ends up in logs, shell histories and config files: the credentials are options or AWS sources."""
    with pytest.raises(ValueError, match="takes no credentials") as caught:
        sb.open(url)
    assert "secretKEY" not in str(caught.value)
    assert "access_key_id" in str(caught.value)


def test_bad_options() -> None:
    url = "s3://bucket/x.json"
    with pytest.raises(ValueError, match="endpoint_url must be an http:// or https:// URL") as caught:
        sb.open(url, endpoint_url="http://user:topsecret@127.0.0.1:9000")
    assert "topsecret" not in str(caught.value)
    with pytest.raises(ValueError, match="endpoint_url"):
        sb.open(url, endpoint_url="ftp://127.0.0.1")
    with pytest.raises(ValueError, match="region"):
        sb.open(url, region="us east 1")
    with pytest.raises(TypeError, match="secret_access_key must be a non-empty str") as typed:
        sb.open(url, access_key_id="AKIA1", secret_access_key=12345678)
    assert "12345678" not in str(typed.value)
    with pytest.raises(ValueError, match="secret_access_key"):
        sb.open(url, access_key_id="AKIA1", secret_access_key="")
    with pytest.raises(ValueError, match="give both access_key_id and secret_access_key"):
        sb.open(url, access_key_id="AKIA1")
    with pytest.raises(ValueError, match="session_token goes with"):
        sb.open(url, session_token="token")
    with pytest.raises(ValueError, match="timeout"):
        sb.open(url, timeout=-1)
    with pytest.raises(TypeError, match="'colour'"):
        sb.open(url, colour="red")
    with pytest.raises(TypeError, match="'ssl_context'"):
        sb.open(url, ssl_context=None)


def test_open_config_takes_the_options_as_text(s3_server: S3Server, s3_bucket: str) -> None:
    settings = {"url": f"s3://{s3_bucket}/conf.json", "timeout": "5", **s3_server.options()}
    with sb.open_config(settings) as store:
        uid = store.create({"a": b"1"}).uid
        assert s3_server.secret_access_key not in repr(store)
    with sb.open_config({**settings, "flag": "r"}) as store:
        assert store[uid]["a"] == b"1"


# -- the Transport contract and the conformance machine -----------------------------------------------------------


class TestS3Transport(TransportTests):
    """The contract's tests on one object of a fresh bucket; a failed write is an upload the server cuts off,
    a failed read a download whose connection drops before the reply."""

    server: S3Server

    @pytest.fixture
    def location(self, s3_server: S3Server, s3_bucket: str) -> str:
        self.server = s3_server
        return f"s3://{s3_bucket}/dir/store.bin"

    def open_transport(self, location: str) -> Transport:
        return Transport.from_url(location, **self.server.options())

    def fail_next_write(self, transport: Transport) -> bool:
        self.server.fault("cut-upload", RETRY.attempts)  # every try of the next write
        return True

    def fail_next_read(self, transport: Transport) -> bool:
        self.server.fault("drop-download", RETRY.attempts)  # every try of the next read
        return True


class S3Machine(StorageMachine):
    """Each example on its own object of the session's server."""

    server: ClassVar[S3Server]
    bucket: ClassVar[str]

    def open_storage(self, flag: str) -> Storage:
        return sb.open(f"s3://{self.bucket}/{self.name}/store.json", flag=flag, **self.server.options())


class TestS3Machine(S3Machine.TestCase):  # type: ignore[name-defined,misc]
    # Each step may download and upload the whole object: 10 examples of up to 20 steps, as on FTP.
    settings = settings(
        max_examples=10,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )

    @pytest.fixture(autouse=True)
    def _server(self, s3_server: S3Server, s3_bucket: str) -> None:
        S3Machine.server = s3_server
        S3Machine.bucket = s3_bucket


# -- every codec, flags ------------------------------------------------------------------------------------------


def test_round_trip_on_every_codec(s3_server: S3Server, s3_bucket: str, codec_name: str) -> None:
    url = f"s3://{s3_bucket}/notes.data?codec={codec_name}"
    document = {"title": b"Hello world", "blob": b"\x00\xff", "empty": b""}
    with sb.open(url, **s3_server.options()) as store:
        uid = store.create(document).uid
    with sb.open(url, flag="r", **s3_server.options()) as store:
        assert store[uid] == document
    with sb.open(f"s3://{s3_bucket}/notes.data", codec=codec_name, flag="r", **s3_server.options()) as store:
        assert store[uid] == document
    assert keys(s3_server, s3_bucket) == ["notes.data"]


def test_flag_c_creates_the_object_at_the_first_sync(s3_server: S3Server, s3_bucket: str) -> None:
    store = sb.open(f"s3://{s3_bucket}/a/b/new.json", **s3_server.options())
    assert keys(s3_server, s3_bucket) == []
    store.create({"a": b"1"})
    store.sync()
    assert keys(s3_server, s3_bucket) == ["a/b/new.json"]
    store.close()
    sb.open(f"s3://{s3_bucket}/empty.json", **s3_server.options()).close()
    with sb.open(f"s3://{s3_bucket}/empty.json", flag="r", **s3_server.options()) as empty:
        assert len(empty) == 0


@pytest.mark.parametrize("flag", ["w", "r"])
def test_flags_w_and_r_on_a_missing_object_create_nothing(s3_server: S3Server, s3_bucket: str, flag: str) -> None:
    with pytest.raises(sb.StoreNotFoundError, match=r"missing\.json"):
        sb.open(f"s3://{s3_bucket}/missing.json", flag=flag, **s3_server.options())
    assert keys(s3_server, s3_bucket) == []


def test_opening_without_changes_never_writes(s3_server: S3Server, s3_bucket: str) -> None:
    """Every PutObject makes a new version in a versioned bucket: there must be exactly one."""
    client = s3_server.client()
    client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    url = f"s3://{s3_bucket}/r.json"
    with sb.open(url, **s3_server.options()) as store:
        uid = store.create({"a": b"1"}).uid
    for flag in ("r", "w", "c"):
        with sb.open(url, flag=flag, **s3_server.options()) as store:
            assert store[uid]["a"] == b"1"
    assert len(client.list_object_versions(Bucket=s3_bucket)["Versions"]) == 1


def test_a_corrupt_object(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    client.put_object(Bucket=s3_bucket, Key="bad.json", Body=b'{"not": "a store"}')
    with pytest.raises(sb.CorruptStoreError, match=r"bad\.json"):
        sb.open(f"s3://{s3_bucket}/bad.json", **s3_server.options())
    assert body(s3_server, s3_bucket, "bad.json") == b'{"not": "a store"}'
    client.put_object(Bucket=s3_bucket, Key="bad.json", Body=b"")
    with pytest.raises(sb.CorruptStoreError, match="flag 'n'"):
        sb.open(f"s3://{s3_bucket}/bad.json", **s3_server.options())
    with sb.open(f"s3://{s3_bucket}/bad.json", flag="n", **s3_server.options()) as store:
        store.create({})
    with sb.open(f"s3://{s3_bucket}/bad.json", flag="r", **s3_server.options()) as store:
        assert len(store) == 1


@pytest.mark.parametrize("flag", ["c", "w", "r", "n"])
def test_a_missing_bucket_is_a_missing_store_under_every_flag(s3_server: S3Server, flag: str) -> None:
    """A store never creates a bucket (their owner does, with a region and a policy): said at open."""
    with pytest.raises(sb.StoreNotFoundError, match="the bucket 'sb-no-such-bucket' does not exist"):
        sb.open("s3://sb-no-such-bucket/x.json", flag=flag, **s3_server.options())
    assert "sb-no-such-bucket" not in [entry["Name"] for entry in s3_server.client().list_buckets()["Buckets"]]


# -- conflicts instead of locks: conditional writes (API.md sections 7 and 11) --------------------------------------


def test_the_second_writer_gets_a_conflict(s3_server: S3Server, s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/shared.json"
    with sb.open(url, **s3_server.options()) as store:
        uid = store.create({"v": b"0"}).uid
    first, second = sb.open(url, **s3_server.options()), sb.open(url, **s3_server.options())
    first[uid]["v"] = b"first"
    second[uid]["v"] = b"second"
    first.sync()
    with pytest.raises(sb.ConflictError, match=r"shared\.json.*was changed"):
        second.sync()
    assert second[uid]["v"] == b"second"  # the changes stay, for the caller to decide
    with pytest.raises(sb.ConflictError):
        second.close()
    assert not second.closed
    second.discard()
    second.close()
    first.close()
    with sb.open(url, flag="r", **s3_server.options()) as store:
        assert store[uid]["v"] == b"first"


def test_a_change_or_deletion_behind_the_store_is_a_conflict(s3_server: S3Server, s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/behind.json"
    with sb.open(url, **s3_server.options()) as store:
        uid = store.create({"v": b"0"}).uid
    client = s3_server.client()
    store = sb.open(url, **s3_server.options())
    other = body(s3_server, s3_bucket, "behind.json")
    assert other is not None
    other = other.replace(b'"0"', b'"9"')
    client.put_object(Bucket=s3_bucket, Key="behind.json", Body=other)  # a program that ignores the store
    store[uid]["v"] = b"mine"
    with pytest.raises(sb.ConflictError, match="was changed"):
        store.sync()
    assert body(s3_server, s3_bucket, "behind.json") == other
    store.discard()
    store.close()
    assert body(s3_server, s3_bucket, "behind.json") == other, "discard, then close, left the other version alone"

    store = sb.open(url, **s3_server.options())
    client.delete_object(Bucket=s3_bucket, Key="behind.json")
    store[uid]["v"] = b"mine"
    with pytest.raises(sb.ConflictError, match="was deleted"):
        store.sync()
    store.discard()
    store.close()
    assert keys(s3_server, s3_bucket) == [], "a deleted object is not brought back"


def test_two_stores_creating_one_object_conflict(s3_server: S3Server, s3_bucket: str) -> None:
    """Both found no object: the first creates it (If-None-Match: *), the second cannot overwrite it."""
    url = f"s3://{s3_bucket}/racy.json"
    first, second = sb.open(url, **s3_server.options()), sb.open(url, **s3_server.options())
    first.create({"by": b"first"})
    second.create({"by": b"second"})
    first.close()
    with pytest.raises(sb.ConflictError, match="was created"):
        second.sync()
    second.discard()
    second.close()
    with sb.open(url, flag="r", **s3_server.options()) as store:
        assert [dict(document) for document in store.values()] == [{"by": b"first"}]


def test_flag_n_notes_the_object_it_drops(s3_server: S3Server, s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/n.json"
    with sb.open(url, **s3_server.options()) as store:
        store.create({"old": b"1"})
    fresh, other = sb.open(url, flag="n", **s3_server.options()), sb.open(url, **s3_server.options())
    other.create({"other": b"2"})
    other.close()
    with pytest.raises(sb.ConflictError, match="was changed"):
        fresh.sync()
    fresh.discard()
    fresh.close()
    with sb.open(url, flag="r", **s3_server.options()) as store:
        assert len(store) == 2


def test_the_same_bytes_written_twice_are_no_conflict(s3_server: S3Server, s3_bucket: str) -> None:
    url = f"s3://{s3_bucket}/same.json"
    with sb.open(url, **s3_server.options()) as store:
        uid = store.create({"v": b"0"}).uid
    first, second = sb.open(url, **s3_server.options()), sb.open(url, **s3_server.options())
    first[uid]["v"] = second[uid]["v"] = b"1"
    first.sync()
    second.sync()  # the object already holds exactly what it would write
    second[uid]["v"] = b"2"
    second.sync()  # and it took the object's ETag: its next write is no conflict either
    first.close()
    second.close()
    with sb.open(url, flag="r", **s3_server.options()) as store:
        assert store[uid]["v"] == b"2"


# -- credentials (API.md sections 8 and 11) --------------------------------------------------------------------------


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    waiting: list[BaseException | None] = [error]
    while waiting:
        each = waiting.pop()
        if each is not None and all(each is not seen for seen in found):
            found.append(each)
            waiting += [each.__cause__, each.__context__]
    return found


WRONG_CREDENTIALS = [
    (wrong, code, flag)
    for wrong, code in [("secret", "SignatureDoesNotMatch"), ("key", "InvalidAccessKeyId")]
    for flag in ("c", "n")  # GetObject at open; HeadObject, whose reply has no body to say why
]


@pytest.mark.parametrize("case", WRONG_CREDENTIALS, ids=["-".join(case) for case in WRONG_CREDENTIALS])
def test_wrong_credentials_are_an_authentication_error(
    s3_server: S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture, case: tuple[str, str, str]
) -> None:
    wrong, code, flag = case
    options = s3_server.options()
    if wrong == "secret":
        options["secret_access_key"] = SECRET
    else:
        options["access_key_id"] = "AKIANOTAKEYOFTHISSERVER"
    with caplog.at_level(logging.DEBUG), pytest.raises(sb.AuthenticationError) as caught:
        sb.open(f"s3://{s3_bucket}/x.json", flag=flag, **options)
    assert isinstance(caught.value, PermissionError)
    assert not isinstance(caught.value, ConnectionError)  # "credentials refused", not "cannot reach"
    message = str(caught.value)
    assert code in message
    assert f"refused access key {options['access_key_id']!r} (from the options)" in message
    assert f"127.0.0.1:{s3_server.port}" in message
    assert "trying again" not in caplog.text, "a refusal is an answer: never retried"
    for exc in _chain(caught.value):
        for text in (str(exc), repr(exc), caplog.text):
            assert SECRET not in text
            assert s3_server.secret_access_key not in text
    assert keys(s3_server, s3_bucket) == []


def test_credentials_from_the_aws_environment(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without options, the standard AWS sources: the environment, then a profile of the credentials file."""
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.endpoint_url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_access_key)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    with sb.open(f"s3://{s3_bucket}/env.json") as store:
        uid = store.create({"a": b"1"}).uid

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[sbtest]\naws_access_key_id = {s3_server.access_key_id}\n"
        f"aws_secret_access_key = {s3_server.secret_access_key}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_PROFILE", "sbtest")
    with sb.open(f"s3://{s3_bucket}/env.json", flag="r") as store:
        assert store[uid]["a"] == b"1"

    credentials.write_text(f"[sbtest]\naws_access_key_id = AKIAWRONGKEY0000\naws_secret_access_key = {SECRET}\n")
    with pytest.raises(
        sb.AuthenticationError, match=r"refused access key 'AKIAWRONGKEY0000' \(from shared-cred"
    ) as caught:
        sb.open(f"s3://{s3_bucket}/env.json", flag="r")
    assert SECRET not in str(caught.value)


def test_no_credentials_anywhere(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask for
    with pytest.raises(sb.AuthenticationError, match="no AWS credentials to sign with.*give access_key_id"):
        sb.open(f"s3://{s3_bucket}/x.json", endpoint_url=s3_server.endpoint_url, region=REGION)


def test_a_session_token_the_server_refuses(
    s3_server: S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Temporary credentials: the token goes with each request; refused, it shows nowhere, not even in
    botocore's DEBUG log of the request's headers."""
    token = "FwoGZXIvYXdzEXAMPLETOKEN/secretish+part=="
    with caplog.at_level(logging.DEBUG), pytest.raises(sb.AuthenticationError, match="InvalidToken") as caught:
        sb.open(f"s3://{s3_bucket}/x.json", **s3_server.options(session_token=token))
    assert "x-amz-security-token" in caplog.text.lower(), "botocore logged the request's headers"
    for exc in _chain(caught.value):
        for text in (str(exc), repr(exc), caplog.text):
            assert "EXAMPLETOKEN" not in text


def test_a_permission_the_key_lacks_is_an_io_error_not_an_authentication_error(
    s3_server: S3Server, s3_bucket: str
) -> None:
    """A valid key without s3:PutObject: the server accepted who we are, and refused the action."""
    iam = s3_server.iam()
    user = f"reader-{s3_bucket}"
    iam.create_user(UserName=user)
    policy = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}'
    iam.put_user_policy(UserName=user, PolicyName="read", PolicyDocument=policy)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    url = f"s3://{s3_bucket}/rw.json"
    with sb.open(url, **s3_server.options()) as store:
        uid = store.create({"a": b"1"}).uid
    reader = s3_server.options(access_key_id=key["AccessKeyId"], secret_access_key=key["SecretAccessKey"])
    store = sb.open(url, **reader)
    assert store[uid]["a"] == b"1"
    store[uid]["a"] = b"2"
    with pytest.raises(sb.StorageIOError, match="AccessDenied") as caught:
        store.sync()
    assert not isinstance(caught.value, sb.AuthenticationError)
    store.discard()
    store.close()


# -- servers that cannot be reached, stop, die or drop a connection mid-sync -------------------------------------------


def test_an_unreachable_endpoint(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    with caplog.at_level(logging.DEBUG), pytest.raises(sb.BackendUnavailableError) as caught:
        sb.open(
            "s3://bucket/x.json", endpoint_url=f"http://127.0.0.1:{port}", region=REGION, access_key_id="AKIA1",
            secret_access_key=SECRET, timeout=5,
        )  # fmt: skip
    message = str(caught.value)
    assert isinstance(caught.value, ConnectionError)
    assert f"127.0.0.1:{port}" in message
    assert "3 attempts" in message
    assert caplog.text.count("trying again") == 2, "bounded: three tries in all"
    for exc in _chain(caught.value):
        for text in (str(exc), repr(exc), caplog.text):
            assert SECRET not in text


def test_an_upload_cut_off_mid_way_keeps_the_old_object_and_the_changes(
    s3_server: S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The connection drops in the middle of each try's upload: the sync fails after three, S3 keeps the
    old object whole (one PutObject, never a part of one), and the store keeps its changes for a later sync."""
    url = f"s3://{s3_bucket}/cut.json"
    store = sb.open(url, **s3_server.options())
    uid = store.create({"v": b"old"}).uid
    store.sync()
    old = body(s3_server, s3_bucket, "cut.json")
    store[uid]["v"] = b"new" * 20_000
    s3_server.fault("cut-upload", 3)
    with caplog.at_level(logging.WARNING), pytest.raises(sb.BackendUnavailableError) as caught:
        store.sync()
    assert f"127.0.0.1:{s3_server.port}" in str(caught.value)
    assert caplog.text.count("trying again") == 2
    assert body(s3_server, s3_bucket, "cut.json") == old
    assert store[uid]["v"] == b"new" * 20_000
    store.close()  # the server takes uploads again: the kept changes are written, no conflict with itself
    with sb.open(url, flag="r", **s3_server.options()) as again:
        assert again[uid]["v"] == b"new" * 20_000


def test_one_cut_upload_is_retried(s3_server: S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture) -> None:
    url = f"s3://{s3_bucket}/retry.json"
    with sb.open(url, **s3_server.options()) as store:
        uid = store.create({"v": b"1"}).uid
        store.sync()
        store[uid]["v"] = b"2"
        s3_server.fault("cut-upload", 1)
        with caplog.at_level(logging.WARNING):
            store.sync()
    assert caplog.text.count("trying again") == 1
    with sb.open(url, flag="r", **s3_server.options()) as store:
        assert store[uid]["v"] == b"2"


def test_a_reply_lost_after_the_write_is_no_conflict(
    s3_server: S3Server, s3_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    """S3 stored the object but the connection dropped before the reply: the retry's condition fails (the
    ETag is our own write's), and the object holding exactly our bytes says the write went through."""
    url = f"s3://{s3_bucket}/lost.json"
    store = sb.open(url, **s3_server.options())
    uid = store.create({"v": b"1"}).uid
    store.sync()
    store[uid]["v"] = b"2"
    s3_server.fault("drop-reply", 1)
    with caplog.at_level(logging.WARNING):
        store.sync()
    assert caplog.text.count("trying again") == 1
    assert b'"2"' in (body(s3_server, s3_bucket, "lost.json") or b"")
    store[uid]["v"] = b"3"
    store.sync()  # the store took the new ETag: its own write is no conflict
    other = sb.open(url, **s3_server.options())
    other[uid]["v"] = b"other"
    other.close()
    store[uid]["v"] = b"4"
    with pytest.raises(sb.ConflictError):  # and someone else's still is
        store.sync()
    store.discard()
    store.close()


def test_a_sync_while_the_server_is_down_keeps_the_changes(own_s3_server: S3Server) -> None:
    """The server is down at the sync: BackendUnavailableError, the store keeps its changes and stays open;
    back (moto's restarted server is empty, so the bucket is made again), the same close() writes them."""
    server = own_s3_server
    bucket = server.new_bucket("down")
    url = f"s3://{bucket}/down.json"
    store = sb.open(url, **server.options(timeout=5))
    uid = store.create({"a": b"1"}).uid
    server.kill()
    with pytest.raises(sb.BackendUnavailableError) as caught:
        store.sync()
    assert f"127.0.0.1:{server.port}" in str(caught.value)
    assert store[uid]["a"] == b"1"
    with pytest.raises(sb.BackendUnavailableError):
        store.close()
    assert not store.closed
    server.start()
    server.client().create_bucket(Bucket=bucket)
    store.close()
    with sb.open(url, flag="r", **server.options()) as again:
        assert again[uid]["a"] == b"1"


def test_the_server_dies_mid_upload(own_s3_server: S3Server) -> None:
    """The server process is killed (SIGKILL) in the middle of an upload. The sync fails, the store keeps
    its changes. The restarted server lost everything (moto keeps buckets in memory): the object this store
    read is gone, so the next sync is a ConflictError, not a silent re-creation; the changes are still there
    to copy into a new store."""
    server = own_s3_server
    bucket = server.new_bucket("dies")
    url = f"s3://{bucket}/dies.json"
    store = sb.open(url, **server.options(timeout=5))
    uid = store.create({"v": b"old"}).uid
    store.sync()
    store[uid]["v"] = b"new" * 20_000
    server.fault("kill-upload")
    with pytest.raises(sb.BackendUnavailableError, match=f"127.0.0.1:{server.port}"):
        store.sync()
    assert server.died(), "the server was killed by the fault, in the middle of the upload"
    assert store[uid]["v"] == b"new" * 20_000
    server.start()
    server.client().create_bucket(Bucket=bucket)
    with pytest.raises(sb.ConflictError, match="was deleted"):
        store.sync()
    kept = {key: dict(document) for key, document in store.items()}
    store.discard()
    store.close()
    assert keys(server, bucket) == []
    with sb.open(url, **server.options()) as fresh:
        fresh.update(kept)
    with sb.open(url, flag="r", **server.options()) as again:
        assert again[uid]["v"] == b"new" * 20_000


def test_the_readme_example_runs(own_s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The README's "Object storage" example, as written, with the server given by the AWS environment."""
    from test_readme import run_blocks

    server = own_s3_server
    server.client().create_bucket(Bucket="my-bucket")
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ENDPOINT_URL_S3": server.endpoint_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": server.secret_access_key,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, object] = {"__name__": "readme_example", "folder": tmp_path}
    run_blocks("Object storage", namespace)
    assert isinstance(namespace["mine"], dict), "the second writer's sync was a conflict"
    assert keys(server, "my-bucket") == ["notes/notes.json"]
