"""The observer in-process: one report per response after its body is done, bounded labels,
what it costs nothing to leave off, the event lines and the counting API for other modules."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families

from mediaserve import metrics
from mediaserve.delivery.asgi import ASGIMedia
from mediaserve.delivery.wsgi import WSGIMedia
from mediaserve.metrics.exposition import parse_bind, wsgi_app
from mediaserve.metrics.labels import consumer_family, reason_label

META = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"


@pytest.fixture
def observer() -> Iterator[metrics.Observer]:
    events: list[dict[str, Any]] = []
    found = metrics.configure(metrics=True, failure_sink=lambda e: events.append(dict(e)))
    found.events = events  # type: ignore[attr-defined]
    yield found
    metrics.disable()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "small.jpg").write_bytes(b"s" * 1000)
    (tmp_path / "big.bin").write_bytes(b"b" * 300_000)
    (tmp_path / ".env").write_text("x")
    return tmp_path


def samples(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of ``name`` in the exposition, by its sorted labels."""
    text = metrics.exposition_text().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def count(name: str, **labels: str) -> float:
    return sum(
        value
        for key, value in samples(name).items()
        if all((k, v) in key for k, v in labels.items())
    )


class Started:
    def __init__(self) -> None:
        self.status = ""

    def __call__(self, status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        self.status = status


def environ(path: str, agent: str = META, **extra: Any) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_USER_AGENT": agent, **extra}


def drain(body: Iterable[bytes]) -> bytes:
    data = b"".join(body)
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return data


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        (META, "meta_crawler"),
        ("meta-externalagent/1.1 (+https://developers.facebook.com/docs/sharing/webmasters/crawler)",
         "meta_crawler"),
        ("facebookcatalog/1.0", "meta_crawler"),
        ("meta-externalfetcher/1.1", "meta_preview"),
        ("WhatsApp/2.23.20.0 A", "whatsapp"),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36", "browser"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "other"),
        ("curl/8.0", "other"),
        (None, "other"),
    ],
)  # fmt: skip
def test_consumer_family_is_one_of_five(agent: str | None, family: str) -> None:
    assert consumer_family(agent) == family


@pytest.mark.parametrize(
    ("kind", "reason", "label"),
    [
        ("refused", "'..' segment", "traversal"),
        ("refused", "encoded slash, backslash or NUL in the URL", "traversal"),
        ("refused", "dotfile or dot-directory", "dotfile"),
        ("refused", "symlink leaves the media root", "traversal"),
        ("denied", "no signature", "no_signature"),
        ("denied", "signature expired at 1700000000", "expired_signature"),
        ("denied", "signature does not match", "bad_signature"),
        ("denied", "permission denied", "private"),
        ("throttled", "rate limit exceeded", "rate_limited"),
        ("missing", "[Errno 2] whatever", "not_found"),
        ("unavailable", "http://s3 unreachable", "store_unavailable"),
        ("served", "", ""),
    ],
)
def test_reasons_become_a_bounded_class(kind: str, reason: str, label: str) -> None:
    """A reason text may carry a timestamp or a name: the label never does."""
    assert reason_label(kind, reason) == label


def test_with_metrics_off_the_wsgi_body_is_the_plain_list(root: Path) -> None:
    metrics.disable()
    body = WSGIMedia(root)(environ("/small.jpg"), Started())
    assert type(body) is list


def test_a_wsgi_response_is_counted_once_after_its_body(
    root: Path, observer: metrics.Observer
) -> None:
    body = WSGIMedia(root)(environ("/small.jpg"), Started())
    assert count("mediaserve_responses_total", consumer="meta_crawler") == 0, "not before close"
    assert drain(body) == b"s" * 1000
    assert count("mediaserve_responses_total", status="200", consumer="meta_crawler") == 1
    assert count("mediaserve_sent_bytes_total", delivery="in_process") == 1000
    assert count("mediaserve_response_duration_seconds_count") == 1
    assert count("mediaserve_time_to_first_byte_seconds_count") == 1


def test_a_streamed_body_counts_what_was_read(root: Path, observer: metrics.Observer) -> None:
    body = WSGIMedia(root)(environ("/big.bin"), Started())  # no file_wrapper: bounded reads
    drain(body)
    assert count("mediaserve_sent_bytes_total", delivery="in_process") == 300_000


def test_a_short_body_is_counted_as_short_with_the_bytes_sent(
    root: Path, observer: metrics.Observer
) -> None:
    body = WSGIMedia(root)(environ("/big.bin"), Started())
    os.truncate(root / "big.bin", 100_000)  # replaced mid-download
    assert len(drain(body)) == 100_000
    assert count("mediaserve_responses_total", outcome="short_body") == 1
    assert count("mediaserve_sent_bytes_total") == 100_000
    assert observer.events[0]["outcome"] == "short_body"  # type: ignore[attr-defined]


class FileWrapper:
    """What gunicorn's wrapper is to mediaserve: a class it can subclass to see close()."""

    def __init__(self, file: Any, blksize: int = 8192) -> None:
        self.filelike = file
        self.close = file.close

    def __iter__(self) -> Iterator[bytes]:
        raise AssertionError("sent by sendfile in a real server")


def test_a_sendfile_body_is_counted_when_the_server_closes_it(
    root: Path, observer: metrics.Observer
) -> None:
    env = environ(
        "/big.bin", HTTP_RANGE="bytes=100000-", SERVER_SOFTWARE="gunicorn/23",
        **{"wsgi.file_wrapper": FileWrapper},
    )  # fmt: skip
    body = WSGIMedia(root)(env, Started())
    assert isinstance(body, FileWrapper), "still the server's class: sendfile stays on"
    body.close()
    assert count("mediaserve_sent_bytes_total", delivery="sendfile") == 200_000
    assert count("mediaserve_responses_total", status="206", delivery="sendfile") == 1


def test_refusals_go_to_the_sink_and_the_event_line(
    root: Path, observer: metrics.Observer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mediaserve.events")
    drain(WSGIMedia(root)(environ("/.env", "WhatsApp/2.23"), Started()))
    drain(WSGIMedia(root)(environ("/small.jpg", "Mozilla/5.0 (X11) Firefox/120"), Started()))
    drain(WSGIMedia(root)(environ("/nope.jpg", "Mozilla/5.0 (X11) Firefox/120"), Started()))
    assert count("mediaserve_responses_total", outcome="refused", reason="dotfile") == 1
    events = observer.events  # type: ignore[attr-defined]
    assert [(e["consumer"], e["reason"]) for e in events] == [("whatsapp", "dotfile")]
    lines = [r for r in caplog.records if r.name == "mediaserve.events"]
    assert len(lines) == 2, "the refusal and the browser's 404; no line for the 200"
    assert "consumer=whatsapp" in lines[0].getMessage()
    assert "/.env" in lines[0].getMessage()


def test_json_event_lines(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    metrics.configure(metrics=False, log_format="json")
    try:
        caplog.set_level(logging.INFO, logger="mediaserve.events")
        drain(WSGIMedia(root)(environ("/nope.jpg"), Started()))
    finally:
        metrics.disable()
    (record,) = [r for r in caplog.records if r.name == "mediaserve.events"]
    event = json.loads(record.getMessage())
    assert event["consumer"] == "meta_crawler"
    assert event["status"] == 404
    assert event["path"] == "/nope.jpg"
    assert event["reason"] == "not_found"


def _asgi(app: ASGIMedia, path: str, headers: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent


def test_an_asgi_response_is_counted_with_its_bytes(root: Path, observer: metrics.Observer) -> None:
    agent = [(b"user-agent", META.encode())]
    messages = _asgi(ASGIMedia(root), "/big.bin", [*agent, (b"range", b"bytes=0-9")])
    assert messages[0]["status"] == 206
    _asgi(ASGIMedia(root), "/big.bin", agent)
    assert count("mediaserve_responses_total", status="206", consumer="meta_crawler") == 1
    assert count("mediaserve_sent_bytes_total", delivery="in_process") == 10 + 300_000


def test_the_counting_api_for_renditions_and_the_store(observer: metrics.Observer) -> None:
    metrics.rendition_built("thumb", 0.02)
    metrics.rendition_built("thumb", 0.5, ok=False)
    metrics.rendition_cache("thumb", hit=True)
    metrics.store_request("get", 0.01)
    metrics.store_request("head", 0.2, "unavailable")
    metrics.store_request("range", None, "a made-up error class")
    assert count("mediaserve_rendition_builds_total", preset="thumb", result="ok") == 1
    assert count("mediaserve_rendition_builds_total", result="error") == 1
    assert count("mediaserve_rendition_cache_total", result="hit") == 1
    assert count("mediaserve_store_requests_total", operation="head", result="unavailable") == 1
    assert count("mediaserve_store_requests_total", result="error") == 1, "bounded"
    assert count("mediaserve_store_request_seconds_count") == 2


def test_preset_names_stay_bounded(observer: metrics.Observer) -> None:
    for n in range(100):
        metrics.rendition_cache(f"user-input-{n}", hit=False)
    presets = {dict(k)["preset"] for k in samples("mediaserve_rendition_cache_total")}
    assert len(presets) == 65
    assert "other" in presets


def test_the_counting_api_is_a_no_op_when_off() -> None:
    metrics.disable()
    metrics.rendition_built("thumb", 1.0)
    metrics.store_request("get", 1.0)
    assert b"mediaserve_rendition" not in metrics.exposition_text()


def test_the_plain_exposition_app(observer: metrics.Observer) -> None:
    started = Started()
    body = b"".join(wsgi_app({"REQUEST_METHOD": "GET"}, started))
    assert started.status == "200 OK"
    assert b"# TYPE mediaserve_responses_total counter" in body
    assert b"".join(wsgi_app({"REQUEST_METHOD": "POST"}, started)) == b""
    assert started.status.startswith("405")


@pytest.mark.parametrize("bind", ["9100", "localhost", "127.0.0.1:http", "127.0.0.1:70000", ":9"])
def test_a_bad_bind_names_the_fix(bind: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1:9100|between 1 and 65535"):
        parse_bind(bind)


def test_serve_with_a_bad_metrics_bind_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "environ", dict(os.environ))  # serve exports its settings
    from harness import free_port
    from mediaserve.cli.main import main

    port = str(free_port())
    assert main(["serve", str(tmp_path), "--port", port, "--metrics-bind", "nope"]) == 2
    err = capsys.readouterr().err
    assert err == "mediaserve serve: --metrics-bind 'nope': give HOST:PORT, e.g. 127.0.0.1:9100\n"


class _FailingStore:
    """A store driver whose every request fails, as an unreachable endpoint does."""

    endpoint = "http://127.0.0.1:9 bucket 'media'"

    def stat(self, name: str) -> Any:
        from mediaserve.sources.remote import Unavailable

        raise Unavailable(f"{self.endpoint} unreachable: ConnectionRefusedError")

    def fetch(self, name: str, chunk_size: int) -> Any:
        return self.stat(name)


def test_store_errors_are_counted_and_the_503_logged(
    observer: metrics.Observer, caplog: pytest.LogCaptureFixture
) -> None:
    from mediaserve.pipeline.decide import Pipeline
    from mediaserve.pipeline.mount import Mount
    from mediaserve.pipeline.store import StoreOptions
    from mediaserve.sources.remote import StoreSource

    caplog.set_level(logging.INFO, logger="mediaserve.events")
    source = StoreSource(_FailingStore())  # type: ignore[arg-type]
    app = WSGIMedia(source)
    app.pipeline = Pipeline(Mount.create(source, "/", store=StoreOptions(mode="proxy")))
    started = Started()
    drain(app(environ("/a.jpg"), started))
    assert started.status.startswith("503")
    assert count("mediaserve_store_requests_total", operation="get", result="unavailable") == 1
    assert count("mediaserve_store_request_seconds_count", operation="get") == 1
    assert count("mediaserve_responses_total", outcome="unavailable", consumer="meta_crawler") == 1
    (line,) = [r for r in caplog.records if r.name == "mediaserve.events"]
    assert line.levelno == logging.ERROR
    assert "store_unavailable" in line.getMessage()


def test_health_without_django_settings_says_how(tmp_path: Path) -> None:
    """`mediaserve health` outside a Django project names the two ways in (a fresh process:
    this one has Django set up already)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-m", "mediaserve", "health"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert "manage.py mediaserve health" in done.stderr
    assert "Traceback" not in done.stderr


def test_one_line_per_refusal_while_event_lines_are_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The event line replaces the pipeline's own WARNING (dropped to DEBUG), and names the
    client; with the observer removed the pipeline's WARNING is back."""
    (tmp_path / ".env").write_text("SECRET=1")
    app = WSGIMedia(tmp_path, prefix="/media/")
    previous = metrics.OBSERVER
    try:
        metrics.configure(metrics=False, log_events=True)
        with caplog.at_level(logging.DEBUG, logger="mediaserve"):
            env = environ("/media/.env")
            env["REMOTE_ADDR"] = "203.0.113.9"
            drain(app(env, Started()))
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.name for r in warnings] == ["mediaserve.events"]
        assert "from 203.0.113.9" in warnings[0].getMessage()
        assert "dotfile" in warnings[0].getMessage()
        assert any(r.name == "mediaserve" and r.levelno == logging.DEBUG for r in caplog.records)
        caplog.clear()
        metrics.disable()
        with caplog.at_level(logging.DEBUG, logger="mediaserve"):
            drain(app(environ("/media/.env"), Started()))
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.name for r in warnings] == ["mediaserve"]
    finally:
        metrics.OBSERVER = previous
