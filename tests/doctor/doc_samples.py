"""Refresh the sample reports in docs/doctor.md from real runs of the proof tests.

    .venv/bin/python tests/doctor/doc_samples.py

runs tests/doctor/test_doctor_proofs.py, test_doctor_input.py, test_doctor_outside.py and
test_doctor_crawler.py with
MEDIASERVE_DOCTOR_SAMPLES set, then replaces the text between the ``samples`` markers in
docs/doctor.md. Only the throw-away parts are rewritten so the reports read like a
deployment's: temporary folders, the random loopback ports, the dates of the test CA.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "doctor.md"
START, END = "<!-- samples:start -->", "<!-- samples:end -->"

#: (test name, heading), in the order of the issue's list of broken set-ups.
SAMPLES: list[tuple[str, str]] = [
    ("test_a_correct_set_up_passes_every_hop", "A correct set-up (the control)"),
    ("test_debug_only_static_is_the_routing_hop", "DEBUG-only static(): Django's 404"),
    ("test_media_volume_missing_in_the_proxy", "Media volume missing in the proxy"),
    (
        "test_media_volume_missing_without_the_config_still_names_nginx",
        "Media volume missing, without --proxy-config",
    ),
    ("test_alias_without_trailing_slash", "alias without the trailing slash"),
    ("test_npm_cache_assets_regex_hijacks_images", "NPM's Cache Assets regex takes the images"),
    ("test_file_readable_only_by_its_owner_is_403_from_nginx", "A 0600 file: 403 from nginx"),
    ("test_html_catch_all_is_the_routing_hop", "An HTML page with 200 instead of the file"),
    ("test_spa_fallback_in_the_proxy_answers_html", "An HTML page from the proxy's SPA fallback"),
    ("test_empty_200_from_the_proxy", "An empty 200"),
    ("test_wrong_content_type", "Wrong Content-Type"),
    (
        "test_ssl_redirect_without_proxy_header_is_a_loop_fixed_in_settings",
        "Redirect loop: SECURE_SSL_REDIRECT without SECURE_PROXY_SSL_HEADER",
    ),
    (
        "test_proxy_not_sending_x_forwarded_proto_loops_and_is_the_proxy_hop",
        "Redirect loop: the proxy does not send X-Forwarded-Proto",
    ),
    (
        "test_public_host_missing_from_allowed_hosts_is_the_settings_hop",
        "DisallowedHost (400): the public host is not in ALLOWED_HOSTS",
    ),
    (
        "test_proxy_without_host_header_gets_disallowed_host_400",
        "DisallowedHost (400): the proxy does not pass the Host header",
    ),
    ("test_upstream_down_is_502_and_the_upstream_hop", "Upstream down: 502"),
    (
        "test_stale_copy_in_the_proxy_differs_from_the_app_without_django",
        "The proxy serves a stale copy (no Django settings at hand)",
    ),
    ("test_image_under_500_px_fails_the_catalog_profile", "Image under 500x500 (meta-catalog)"),
    ("test_image_over_5_mb_fails_the_whatsapp_profile", "Image over 5 MB (whatsapp)"),
    ("test_block_only_for_the_crawler_user_agent", "A block only for the crawler's user agent"),
    ("test_bad_certificate_is_the_tls_hop[expired-the", "Expired certificate"),
    ("test_bad_certificate_is_the_tls_hop[wronghost-the", "Certificate for another host"),
    ("test_redirect_to_a_login_page", "A redirect to a login page"),
    ("test_scan_of_a_feed_with_http_links", "http:// links in the feed (--scan)"),
    ("test_manage_py_scan_of_the_example_catalog", "Every FileField of the example (--scan)"),
    (
        "test_an_exception_in_the_view_is_evidence_not_a_traceback",
        "An exception in the view (no public URL: local hops only)",
    ),
    ("test_a_server_that_never_answers_is_bounded_by_the_timeout", "A server that never answers"),
    # Outside-in (test_doctor_outside.py): no --proxy-config, no settings.
    (
        "test_npm_cache_assets_is_named_from_outside_with_the_upstream",
        "Outside-in: NPM's Cache Assets, from the URL and --upstream only",
    ),
    (
        "test_npm_cache_assets_is_named_from_the_error_pages_alone",
        "Outside-in: the same, from the error pages alone",
    ),
    ("test_nginx_healthy_control_has_no_failure", "Outside-in: the nginx control"),
    ("test_caddy_asset_matcher_before_media_is_named", "Outside-in: Caddy, an asset matcher first"),
    (
        "test_apache_proxypassmatch_before_alias_is_named",
        "Outside-in: Apache, ProxyPassMatch before Alias",
    ),
    (
        "test_traefik_longer_regex_router_is_named[assets-router]",
        "Outside-in: Traefik, a longer PathRegexp router",
    ),
    # The crawler's hops (test_doctor_crawler.py).
    ("test_dns_no_record_is_the_dns_hop", "DNS: no record"),
    ("test_dns_aaaa_only_is_the_dns_hop", "DNS: AAAA only"),
    ("test_dns_private_address_fails_though_it_works_from_here", "DNS: a private address"),
    ("test_missing_intermediate_is_the_tls_hop[leaf-only]", "TLS: the intermediate is missing"),
    ("test_http_https_redirect_loop", "An HTTP<->HTTPS redirect loop"),
    ("test_slow_first_byte_is_timed", "A slow first byte (--local)"),
    ("test_bytes_that_change_between_fetches", "Bytes that change between two fetches"),
    ("test_robots_txt_disallowing_media_for_meta", "robots.txt keeps Meta out of /media/"),
    ("test_gzip_on_images_breaks_ranges", "gzip on images breaks ranges"),
    (
        "test_local_run_names_the_routing_not_the_loopback_url[public-check]",
        "A loopback URL: the summary names the cause, not the url hop",
    ),
    (
        "test_local_run_names_the_routing_not_the_loopback_url[local]",
        "The same with --local",
    ),
    (
        "test_a_name_escaping_media_root_is_refused_without_reading_it",
        "A name that escapes MEDIA_ROOT",
    ),
]


def normalise(text: str) -> str:
    text = re.sub(r"/tmp/mediaserve-doctor-[^/\s]+/files/media", "/srv/app/media", text)
    text = re.sub(r"/tmp/mediaserve-doctor-[^/\s]+/", "/srv/", text)
    text = re.sub(r"/tmp/mediaserve-nginx-[^/\s]+/nginx\.conf", "/etc/nginx/nginx.conf", text)
    text = re.sub(r"/tmp/pytest-of-[^\s]*?/media", "/srv/app/media", text)
    text = re.sub(r"resolver 127\.0\.0\.1:\d+", "resolver 127.0.0.1:5353", text)
    text = re.sub(r"/tmp/mediaserve-caddy-[^/\s]+/", "/etc/caddy/", text)
    text = re.sub(r"shop\.example\.com:\d+", "shop.example.com", text)
    text = re.sub(r"(?<!resolver )127\.0\.0\.1:\d+", "127.0.0.1:8000", text)
    text = re.sub(r"expires \w{3} +\d+ [\d:]+ \d{4} GMT", "expires Jun 30 12:00:00 2026 GMT", text)
    text = re.sub(r"\(\d{1,2} ms\)", "(3 ms)", text)  # loopback noise; slow ones stay
    text = re.sub(r"\b\d+ days left", "20 days left", text)
    return text


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "MEDIASERVE_DOCTOR_SAMPLES": folder}
        tests = [
            str(HERE / name)
            for name in (
                "test_doctor_proofs.py",
                "test_doctor_input.py",
                "test_doctor_outside.py",
                "test_doctor_crawler.py",
            )
        ]
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", *tests], env=env, check=False)
        if done.returncode:
            return done.returncode
        parts = [START]
        for test, heading in SAMPLES:
            path = Path(folder) / f"{test}.txt"
            if not path.exists():
                print(f"no sample from {test}", file=sys.stderr)
                return 1
            parts.append(
                f"\n### {heading}\n\n```text\n{normalise(path.read_text()).rstrip()}\n```\n"
            )
        parts.append(END)
    doc = DOC.read_text()
    begin, end = doc.index(START), doc.index(END) + len(END)
    DOC.write_text(doc[:begin] + "\n".join(parts) + doc[end:])
    print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
