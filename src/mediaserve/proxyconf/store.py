"""The nginx blocks for object storage in offload mode (``MEDIASERVE["STORAGE"]["MODE"]``).

The app answers ``X-Accel-Redirect`` into an internal location (``pipeline/offload.py``,
``store_offload_plan``); these blocks make nginx fetch the object from the store there.
"""

from __future__ import annotations

__all__ = ["nginx_offload_location"]


def nginx_offload_location(
    endpoint_url: str,
    internal_location: str = "/_mediaserve_store/",
    *,
    retry_after: int = 5,
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
) -> str:
    """The nginx blocks that offload mode's X-Accel-Redirect lands in (for ``server {}``).

    ``proxy_pass`` with a URI part (the trailing ``/``) replaces the location prefix and
    re-escapes the rest once: nginx unescapes an X-Accel-Redirect URI, so the store
    receives the key exactly as it was signed. The query (the signature) passes as is.
    ``Host`` must be the signed host. The client's cookies and credentials stay here; the
    store's request ids do not reach the client. A store that does not answer becomes a
    503 with Retry-After, as in proxy mode, instead of nginx's 502/504.
    """
    base = endpoint_url.rstrip("/")
    host = base.split("://", 1)[-1].split("/", 1)[0]
    name = "@mediaserve_store_unavailable"
    tls = "    proxy_ssl_server_name on;\n" if base.startswith("https://") else ""
    return (
        f"location {internal_location} {{\n"
        "    internal;\n"
        f"    proxy_pass {base}/;\n"
        f"    proxy_set_header Host {host};\n"
        '    proxy_set_header Cookie "";\n'
        '    proxy_set_header Authorization "";\n'
        f"{tls}"
        f"    proxy_connect_timeout {connect_timeout:g}s;\n"
        f"    proxy_read_timeout {read_timeout:g}s;\n"
        "    proxy_hide_header x-amz-request-id;\n"
        "    proxy_hide_header x-amz-id-2;\n"
        "    proxy_hide_header Set-Cookie;\n"
        "    add_header X-Content-Type-Options nosniff always;\n"
        f"    error_page 502 504 = {name};\n"
        "}\n"
        f"location {name} {{\n"
        f"    add_header Retry-After {retry_after} always;\n"
        "    add_header Cache-Control no-store always;\n"
        '    return 503 "Service Unavailable: the media store did not answer; '
        'try again shortly.\\n";\n'
        "}\n"
    )
