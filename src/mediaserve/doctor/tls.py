"""Hop ``tls``: the certificate an https URL presents, as a strict client checks it.

Chain (a CA the client trusts), expiry and host name, the checks Meta's fetchers make. A
self-signed, expired or wrong-host certificate makes every fetch fail before HTTP starts.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .fetch import FetchOptions, probe_tls
from .report import Finding

__all__ = ["check_tls"]

HOP = "tls"
#: OpenSSL verify codes (X509_V_ERR_*) worth a specific fix.
_EXPIRED, _NOT_YET_VALID = 10, 9
_SELF_SIGNED, _SELF_SIGNED_IN_CHAIN, _NO_ISSUER, _NO_ISSUER_LEAF = 18, 19, 20, 21
_HOSTNAME_MISMATCH = 62
WARN_DAYS = 14


def _incomplete(sent: list[tuple[str, str]]) -> bool:
    """The last certificate sent is not self-signed: its issuer (an intermediate) is
    missing from what the server sends. A public CA never signs leaves with its root."""
    if not sent:
        return False
    subject, issuer = sent[-1]
    return subject != issuer


def check_tls(url: str, options: FetchOptions) -> list[Finding]:
    parts = urlsplit(url)
    if parts.scheme != "https":
        return [Finding(HOP, "skip", "not an https URL", [url])]
    host = parts.hostname or ""
    port = parts.port or 443
    info = probe_tls(host, port, options)
    if not info.ok and info.unreachable:
        return [Finding(HOP, "skip", f"no connection: {info.error}", [], "")]
    if not info.ok:
        code = info.verify_code
        evidence = [f"{host}:{port}: {info.error}"]
        if code == _EXPIRED:
            return [
                Finding(
                    HOP,
                    "fail",
                    "the certificate has expired",
                    evidence,
                    "Renew it (certbot renew, or NPM: SSL Certificates -> Renew) and "
                    "reload the proxy; check that automatic renewal runs.",
                )
            ]
        if code == _NOT_YET_VALID:
            return [
                Finding(
                    HOP,
                    "fail",
                    "the certificate is not valid yet",
                    evidence,
                    "Check the server's clock (NTP) or the certificate's dates.",
                )
            ]
        if code == _HOSTNAME_MISMATCH:
            return [
                Finding(
                    HOP,
                    "fail",
                    f"the certificate is for another host: {info.error}",
                    evidence,
                    f"Issue a certificate that names {host} (certbot -d {host}), or "
                    "make the proxy's server_name/ssl_certificate pair match it.",
                )
            ]
        if code in (_NO_ISSUER, _NO_ISSUER_LEAF) and _incomplete(info.sent):
            leaf_issuer = info.sent[-1][1]
            evidence.append(
                "sent: " + " | ".join(f"subject {s} (issuer {i})" for s, i in info.sent)
            )
            return [
                Finding(
                    HOP,
                    "fail",
                    f"incomplete chain: the server sends {len(info.sent)} certificate(s) and not "
                    f"the intermediate that issued the last one ({leaf_issuer})",
                    evidence,
                    "Serve the full chain (leaf, then intermediates): nginx ssl_certificate "
                    "fullchain.pem (not cert.pem); Apache SSLCertificateFile fullchain.pem; "
                    "NPM/Caddy/Traefik send it when the certificate file holds it. Browsers "
                    "fetch a missing intermediate themselves; crawlers do not.",
                )
            ]
        if code in (_SELF_SIGNED, _SELF_SIGNED_IN_CHAIN, _NO_ISSUER, _NO_ISSUER_LEAF):
            return [
                Finding(
                    HOP,
                    "fail",
                    f"untrusted certificate chain: {info.error}",
                    evidence,
                    "Use a certificate from a public CA (Let's Encrypt) and serve the "
                    "full chain (nginx: ssl_certificate fullchain.pem, not cert.pem).",
                )
            ]
        return [
            Finding(
                HOP,
                "fail",
                f"TLS failed: {info.error}",
                evidence,
                "Check that the port serves https and the proxy's ssl_certificate.",
            )
        ]
    evidence = [
        f"{info.version}, subject {info.subject}",
        f"issuer {info.issuer}",
        f"names {', '.join(info.names)}",
        f"expires {info.not_after}",
    ]
    if info.days_left is not None and info.days_left < WARN_DAYS:
        return [
            Finding(
                HOP,
                "warn",
                f"the certificate expires in {info.days_left:.0f} day(s)",
                evidence,
                "Renew it now and check automatic renewal.",
            )
        ]
    left = f", {info.days_left:.0f} days left" if info.days_left is not None else ""
    return [Finding(HOP, "pass", f"chain trusted, host name matches{left}", evidence)]
