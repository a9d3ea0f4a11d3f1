"""What the doctor's proof tests share: a throw-away CA, a media tree, the tiny Django site
(tests/doctor/tinysite) under gunicorn, nginx sites on TLS, and running ``mediaserve doctor``.

The public name is ``shop.example.com``; the doctor reaches it on loopback through
``--resolve`` (as curl does), and trusts the test CA through ``--cafile``, so TLS is
checked exactly as it would be against a real certificate.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import LOOPBACK, NginxSite, ServerProcess, start_gunicorn, start_nginx

SITE_DIR = Path(__file__).resolve().parent / "tinysite"
HOST = "shop.example.com"
SHOE = "products/shoe.jpg"  # 800x800 JPEG: what Meta wants
SMALL = "products/small.jpg"  # 300x300
BIG = "products/big.jpg"  # 800x800 but over 5 MB
PRIVATE = "products/private.jpg"  # mode 0600


@dataclass(frozen=True)
class PKI:
    """A CA and three server certificates for HOST: good, expired, and one for another host."""

    folder: Path

    @property
    def ca(self) -> str:
        return str(self.folder / "ca.pem")

    def cert(self, name: str) -> tuple[Path, Path]:
        return self.folder / f"{name}.pem", self.folder / f"{name}.key"


def make_pki(folder: Path) -> PKI:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def pem_key(k: ec.EllipticCurvePrivateKey) -> bytes:
        return k.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    ca_key = key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mediaserve doctor test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - day)
        .not_valid_after(now + 30 * day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def leaf(name: str, host: str, start: datetime.datetime, end: datetime.datetime) -> None:
        leaf_key = key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{name}.key").write_bytes(pem_key(leaf_key))

    leaf("good", HOST, now - day, now + 20 * day)
    leaf("expired", HOST, now - 30 * day, now - 2 * day)
    leaf("wronghost", "www.other-shop.test", now - day, now + 20 * day)
    for item in folder.iterdir():
        item.chmod(0o644)
    return PKI(folder)


@dataclass(frozen=True)
class Chain:
    """A root CA, an intermediate it signed, and a leaf for HOST the intermediate signed:
    ``leaf`` holds the leaf alone (the broken set-up), ``full`` the leaf then the
    intermediate (nginx's fullchain.pem)."""

    root: Path
    leaf: Path
    full: Path
    key: Path


def make_chain(folder: Path) -> Chain:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def issue(
        subject: str, issuer: str, key: ec.EllipticCurvePrivateKey,
        signer: ec.EllipticCurvePrivateKey, ca: bool, host: str | None = None,
    ) -> x509.Certificate:  # fmt: skip
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - day)
            .not_valid_after(now + 20 * day)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), False
            )
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )  # fmt: skip
        if host:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    root_key, mid_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = issue("doctor test root", "doctor test root", root_key, root_key, True)
    mid = issue("doctor test intermediate", "doctor test root", mid_key, root_key, True)
    leaf = issue(HOST, "doctor test intermediate", leaf_key, mid_key, False, HOST)

    def pem(cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)

    chain = Chain(
        folder / "root.pem", folder / "leaf.pem", folder / "full.pem", folder / "leaf.key"
    )
    chain.root.write_bytes(pem(root))
    chain.leaf.write_bytes(pem(leaf))
    chain.full.write_bytes(pem(leaf) + pem(mid))
    chain.key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for item in folder.iterdir():
        item.chmod(0o644)
    return chain


def make_media(base: Path) -> Path:
    """MEDIA_ROOT with the images the tests serve; folders 0755, files 0644 (one 0600)."""
    from PIL import Image

    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    root = base / "media"
    (root / "products").mkdir(parents=True)
    for folder in (root, root / "products"):
        folder.chmod(0o755)

    def jpeg(name: str, side: int, colour: tuple[int, int, int]) -> Path:
        path = root / name
        Image.new("RGB", (side, side), colour).save(path, "JPEG", quality=80)
        path.chmod(0o644)
        return path

    jpeg(SHOE, 800, (200, 40, 40))
    jpeg(SMALL, 300, (40, 200, 40))
    big = jpeg(BIG, 800, (40, 40, 200))
    with big.open("ab") as handle:  # bytes after the JPEG's end marker: still a JPEG, > 5 MB
        handle.write(os.urandom(5 * 1024 * 1024 + 300_000))
    jpeg(PRIVATE, 800, (90, 90, 90)).chmod(0o600)
    return root


def site_env(media_root: Path, **values: str) -> dict[str, str]:
    """Environment for the tiny site (gunicorn and the doctor's in-process hops)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCTOR_", "DJANGO_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(SITE_DIR), *(p for p in sys.path if p)])
    env["DJANGO_SETTINGS_MODULE"] = "doctor_site.settings"
    env["DOCTOR_MEDIA_ROOT"] = str(media_root)
    env["DOCTOR_PROXY_HEADER"] = "1"
    env.update({f"DOCTOR_{k.upper()}": v for k, v in values.items()})
    return env


def start_site(media_root: Path, **values: str) -> ServerProcess:
    env = site_env(media_root, **values)
    return start_gunicorn(
        "doctor_site.wsgi:application", env=env, pythonpath=[SITE_DIR], ready_path="/healthz",
        # As in a container behind a proxy on another address: gunicorn trusts
        # X-Forwarded-Proto only from --forwarded-allow-ips (default 127.0.0.1, which
        # would hide the SECURE_SSL_REDIRECT loop that real deployments hit).
        extra_args=["--log-level", "warning", "--forwarded-allow-ips", "10.255.255.1"],
    )  # fmt: skip


def tls_site(
    pki: PKI, body: str, *, cert: str = "good", server_extra: str = ""
) -> Callable[[NginxSite], str]:
    """An nginx ``http {}`` body: one TLS server for HOST holding ``body``."""
    pem, key = pki.cert(cert)

    def conf(site: NginxSite) -> str:
        return f"""
server {{
    listen {LOOPBACK}:{site.port} ssl;
    server_name {HOST};
    ssl_certificate {pem};
    ssl_certificate_key {key};
{server_extra}
{body}
}}
"""

    return conf


def proxy_all(app_port: int, *, host_header: str = "$http_host") -> str:
    """Everything to the app, as Nginx Proxy Manager's default proxy host does."""
    host = f"proxy_set_header Host {host_header};" if host_header else ""
    return f"""
    location / {{
        proxy_pass http://{LOOPBACK}:{app_port};
        {host}
        proxy_set_header X-Forwarded-Proto $scheme;
    }}"""


def start_proxy(pki: PKI, body: str, **kwargs: Any) -> ServerProcess:
    return start_nginx(tls_site(pki, body, **kwargs))


def nginx_conf_path(proxy: ServerProcess) -> Path:
    return proxy.cleanup_paths[0] / "nginx.conf"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))

    def findings(self, hop: str) -> list[dict[str, Any]]:
        return [f for f in self.data["findings"] if f["hop"] == hop]

    def verdict(self, hop: str) -> str:
        order = {"skip": 0, "pass": 0, "warn": 1, "fail": 2}
        verdicts = [f["verdict"] for f in self.findings(hop)] or ["missing"]
        return max(verdicts, key=lambda v: order.get(v, -1))

    @property
    def first(self) -> dict[str, Any]:
        first = self.data["first_problem"]
        assert first is not None, self.stdout
        return dict(first)

    def text(self, hop: str) -> str:
        """Summaries and fixes of a hop's findings, for substring checks."""
        return "\n".join(f"{f['summary']}\n{f['fix']}" for f in self.findings(hop))


def doctor(
    *args: str, env: dict[str, str] | None = None, proxy: ServerProcess | None = None,
    pki: PKI | None = None, timeout: float = 60,
) -> Run:  # fmt: skip
    """Run ``python -m mediaserve.cli doctor ARGS --json`` (with --resolve/--cafile for
    ``proxy``); a traceback on stderr fails the test whatever the exit code."""
    argv = [sys.executable, "-m", "mediaserve.cli", "doctor", *args]
    if "--json" not in args:
        argv.append("--json")
    if "--timeout" not in args:
        argv += ["--timeout", "5"]
    if proxy is not None:
        argv += ["--resolve", f"{HOST}:{proxy.port}:{LOOPBACK}"]
    if pki is not None:
        argv += ["--cafile", pki.ca]
    if env is None:  # no Django: earlier tests may have set DJANGO_SETTINGS_MODULE here
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DOCTOR_"))}
    done = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=timeout,
        check=False,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    run = Run(done.returncode, done.stdout, done.stderr)
    keep_sample(run, args)
    return run


def keep_sample(run: Run, args: tuple[str, ...], command: str = "mediaserve doctor") -> None:
    """With MEDIASERVE_DOCTOR_SAMPLES=DIR, save the text report of each run (docs/doctor.md
    quotes them: scripts/doctor_samples.sh)."""
    folder = os.environ.get("MEDIASERVE_DOCTOR_SAMPLES")
    test = os.environ.get("PYTEST_CURRENT_TEST", "")
    if not folder or not test:
        return
    from mediaserve.doctor.report import Finding, Report, render_text
    from mediaserve.doctor.scan import render_table

    def rebuild(data: dict[str, Any]) -> Report:
        report = Report(target=data["target"], url=data["url"], name=data["name"])
        report.add(Finding(**f) for f in data["findings"])
        return report

    try:
        data = run.data
    except ValueError:
        return
    if "reports" in data:
        text = render_table([rebuild(r) for r in data["reports"]])
    else:
        text = render_text(rebuild(data))
    name = test.split("::")[-1].split(" ")[0].replace("/", "_")
    Path(folder).mkdir(parents=True, exist_ok=True)
    shown: list[str] = []
    skip = False
    for arg in args:  # what the harness adds to reach loopback is not part of the example
        if skip or arg == "--json":
            skip = False
            continue
        if arg in ("--resolve", "--cafile"):
            skip = True
            continue
        shown.append(arg)
    (Path(folder) / f"{name}.txt").write_text(f"$ {command} " + " ".join(shown) + "\n" + text)


def public_url(proxy: ServerProcess, name: str = SHOE) -> str:
    return f"https://{HOST}:{proxy.port}/media/{name}"
