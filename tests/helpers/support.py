"""Helpers the test modules share (fixtures are in conftest.py)."""

from __future__ import annotations

import datetime
import importlib
import ipaddress
import re
from pathlib import Path
from types import ModuleType

import pytest

from helpers.servers import in_ci
from storagebackend.codecs.registry import CODECS
from storagebackend.registry import codec_by_name

#: A password that must be percent-encoded in a URL (@ : / % ? # and non-ASCII).
FTP_PASSWORD = "p@ss:w/rd%?#ж"
FTP_USER = "sb user"


def available_codecs() -> list[str]:
    """Every built-in codec except those whose module is not in this checkout.

    A codec whose module exists but fails to import (a missing dependency) is
    kept, so its tests fail loudly instead of being skipped. Codec plugins
    installed beside the project (codecs/) are left out: each proves itself
    with the codec kit in its own tests.
    """
    names = []
    for name in sorted(CODECS.builtins):
        try:
            codec_by_name(name)
        except ValueError as exc:
            cause = exc.__cause__
            if isinstance(cause, ModuleNotFoundError) and cause.name == f"storagebackend.codecs.{name}":
                continue
        names.append(name)
    return names


def codec_plugin(module: str, folder: str) -> ModuleType:
    """The installed module of the codec plugin in ``codecs/FOLDER``. If it is not installed
    (``pip install ./codecs/FOLDER``), the calling test or module skips, or fails under CI=true,
    where every plugin is installed."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
    reason = f"the codec plugin {folder} is not installed: pip install ./codecs/{folder}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing plugin fails the run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def readme_codec_examples() -> dict[str, str]:
    """The example file of each codec in the README's Codecs section: the first code block under its heading."""
    readme = (Path(__file__).parent.parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Codecs\n", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"\n#{3,4} (\w+)\n", section)  # text, name, text, name, text...
    examples = {}
    for name, text in zip(parts[1::2], parts[2::2], strict=True):
        found = re.search(r"```\w*\n(.*?)```", text, re.DOTALL)
        if found:
            examples[name] = found.group(1)
    return examples


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (made with ``cryptography``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "storagebackend test FTPS server")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
