"""A certificate authority made for one process's life: the egress proxy's, to terminate TLS for the
hosts whose requests it must read (a method limit, a header to add), and a test's, for the fake
registries it serves.

Its private key never leaves memory. The certificates it issues share one leaf key (the sandbox
trusts the authority, not the key), are made on first use per host, and are cached; an EC P-256 key
signs in well under a millisecond, where RSA would cost a key generation per host.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    """A certificate for some names and where its PEM files are (Python's ssl loads files only)."""

    cert_file: Path
    key_file: Path


class Authority:
    def __init__(self, name: str = "Honk egress", days: int = 30) -> None:
        self.name, self.days = name, days
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA {os.getpid()}")])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + days * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        # Leaf files live in a private directory that no sandbox sees, removed by `close`.
        self._dir = Path(tempfile.mkdtemp(prefix="honk-ca-"))
        self._dir.chmod(0o700)
        self._leaf_key_file = self._dir / "leaf.key"
        fd = os.open(self._leaf_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(
                self._leaf_key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        self._issued: dict[tuple[str, ...], Issued] = {}
        self._lock = threading.Lock()

    @property
    def pem(self) -> bytes:
        """The authority's certificate (public), for trust stores."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, *names: str) -> Issued:
        """A server certificate for `names` (host names or IP addresses), made once and cached."""
        key = tuple(sorted({n.lower() for n in names}))
        with self._lock:
            if (found := self._issued.get(key)) is not None:
                return found
            sans: list[x509.GeneralName] = []
            for name in key:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(name)))
                except ValueError:
                    sans.append(x509.DNSName(name))
            now = dt.datetime.now(dt.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, key[0][:64])]))
                .issuer_name(self.cert.subject)
                .public_key(self._leaf_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - _DAY)
                .not_valid_after(now + self.days * _DAY)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
                )
                .sign(self._key, hashes.SHA256())
            )
            cert_file = self._dir / f"leaf-{len(self._issued)}.pem"
            cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.pem)
            issued = self._issued[key] = Issued(cert_file, self._leaf_key_file)
            return issued

    def close(self) -> None:
        for path in self._dir.iterdir():
            path.unlink(missing_ok=True)
        self._dir.rmdir()


# -- trust for JVMs, which read neither SSL_CERT_FILE nor PEM files -------------------------------------
JAVA_STORE_PASSWORD = "changeit"  # the JDK's own default: such a store holds public certificates only


def write_java_trust_store(pem: bytes, path: Path) -> Path:
    """A PKCS12 trust store at `path` holding every certificate in the PEM bundle `pem`, written by
    cryptography's Java trust-store writer (no keytool, no JVM)."""
    certs = []
    for block in re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S):
        with warnings.catch_warnings():  # an old system root with a negative serial is still a root
            warnings.simplefilter("ignore")
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue
    entries = [pkcs12.PKCS12Certificate(c, f"honk-{i}".encode()) for i, c in enumerate(certs)]
    password = serialization.BestAvailableEncryption(JAVA_STORE_PASSWORD.encode())
    path.write_bytes(pkcs12.serialize_java_truststore(entries, password))
    return path


def java_trust_options(store: Path) -> list[str]:
    """The JVM options that make it trust (only) the store: for a command line or JAVA_TOOL_OPTIONS."""
    return [
        f"-Djavax.net.ssl.trustStore={store}",
        "-Djavax.net.ssl.trustStoreType=PKCS12",
        f"-Djavax.net.ssl.trustStorePassword={JAVA_STORE_PASSWORD}",
    ]
