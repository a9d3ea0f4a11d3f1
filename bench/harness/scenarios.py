"""What is measured, on which subjects, and the ratios (with targets) each scenario prints.

A scenario is a measure function (one running server in, a :class:`Measurement` out), a
subject filter, the metric columns, and ratio rules over the rows of the same run.
"""

from __future__ import annotations

import contextlib
import http.client
import math
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from harness import metrics, procs
from harness.fixtures import HUGE, LARGE, SLICE, SMALL
from harness.loadgen import CheckFailed, Downloads, WrkResult, expect, wrk
from harness.metrics import CpuMeter
from harness.servers import RunContext, RunningServer, running
from harness.subjects import SUBJECTS, Subject

SMALL_CONNECTIONS = 16
LARGE_CONNECTIONS = 4
MEMORY_DOWNLOADS = 16
BACKGROUND_DOWNLOADS = 8
RANGE = (1 << 20, (2 << 20) - 1)  # the second MiB of large.bin
NOISY_PCT = 10.0  # other processes' CPU (% of one core) that makes a row suspect
OTHER_CPU = "other_cpu_pct"  # the noise metric: the worst window, never a median
Op = Literal[">=", "<=", "<"]


@dataclass(frozen=True)
class Durations:
    """Seconds per measurement; ``--quick`` uses the short set."""

    warmup: float
    small: float
    large: float
    large_reps: int
    range: float
    memory: float
    latency: float


FULL = Durations(warmup=2, small=10, large=5, large_reps=3, range=5, memory=30, latency=10)
QUICK = Durations(warmup=1, small=3, large=2, large_reps=2, range=2, memory=5, latency=3)


@dataclass
class Measurement:
    metrics: dict[str, float] = field(default_factory=dict)
    raw: dict[str, object] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_wrk(self, name: str, result: WrkResult, cpu: CpuMeter) -> None:
        """Record a wrk run: its command, raw summary, server CPU, and any errors."""
        self.commands.append(result.command)
        self.raw[name] = {
            "requests": result.requests,
            "duration_s": round(result.duration_s, 3),
            "bytes": result.bytes,
            "errors": result.errors,
            "latency_ms": {k: round(v, 3) for k, v in result.latency_ms.items()},
            "server_cpu_s": round(cpu.seconds, 3),
        }
        self.add_noise(cpu)
        if result.error_count:
            bad = ", ".join(f"{k} {v}" for k, v in result.errors.items() if v)
            self.notes.append(f"{name}: wrk errors ({bad})")

    def add_noise(self, cpu: CpuMeter) -> None:
        """Keep the worst share of a core other processes used during any measured window."""
        share = 100 * cpu.foreign_share
        self.metrics[OTHER_CPU] = max(self.metrics.get(OTHER_CPU, 0.0), share)
        if share >= NOISY_PCT and not any(n.startswith("busy machine") for n in self.notes):
            self.notes.append("busy machine: other processes competed for CPU")


@dataclass(frozen=True)
class Metric:
    key: str
    header: str
    digits: int = 0


@dataclass(frozen=True)
class Ratio:
    """``num / den`` (or ``num`` alone when ``den`` is None) compared with ``target``.

    Each side is ``(subject key, metric key)``. Without ``op`` the ratio is informational.
    """

    label: str
    num: tuple[str, str]
    den: tuple[str, str] | None = None
    op: Op | None = None
    target: float | None = None
    origin: str = "brief"  # "brief": target from the project; "bench": proposed here


@dataclass(frozen=True)
class Compare:
    """A metric compared before/after in a ``--baseline`` run.

    ``higher_is_better``: the after/before ratio must be >= the floor (0.95); otherwise (CPU
    per request or per GB, latency) it must be <= 1/floor. Not ``gated``: printed as info.
    """

    metric: str
    higher_is_better: bool
    gated: bool = True


@dataclass
class Row:
    subject: str
    label: str
    role: str
    status: str  # "ok", "unavailable: ...", "error: ..."
    metrics: dict[str, float] = field(default_factory=dict)  # the median window in A/B runs
    raw: dict[str, object] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tree: str = ""  # "before" / "after" for a candidate in a --baseline run
    imports: dict[str, str] = field(default_factory=dict)  # module -> file the server announced
    windows: list[dict[str, float]] = field(default_factory=list)  # each window's metrics


@dataclass
class Comparison:
    """One candidate's metric, before (baseline tree) and after (working tree)."""

    subject: str
    label: str
    metric: str
    header: str
    digits: int
    before: float | None
    after: float | None
    ratio: float | None  # after / before
    target: str  # ">= 0.95", "<= 1.053" (1/0.95), or "-" when informational
    verdict: str  # PASS, MISS, info, n/a
    before_windows: list[float] = field(default_factory=list)
    after_windows: list[float] = field(default_factory=list)
    detail: str = ""


@dataclass
class RatioResult:
    label: str
    value: float | None
    target: str
    verdict: str  # PASS, MISS, info, n/a
    detail: str = ""


@dataclass
class ScenarioResult:
    name: str
    title: str
    load: str
    columns: list[Metric]
    rows: list[Row]
    ratios: list[RatioResult]
    seconds: float
    comparisons: list[Comparison] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    load: str  # how the load is generated, in words
    select: Callable[[Subject], bool]
    measure: Callable[[RunContext, RunningServer, Durations], Measurement]
    columns: tuple[Metric, ...]
    ratios: Callable[[Sequence[Subject]], list[Ratio]]
    setup: Callable[[RunContext], None] = lambda ctx: None
    teardown: Callable[[RunContext], None] = lambda ctx: None
    compare: tuple[Compare, ...] = ()  # what a --baseline run compares (after/before)


# --- shared measurement steps -------------------------------------------------------------


def measured_wrk(
    ctx: RunContext,
    srv: RunningServer,
    url: str,
    connections: int,
    duration: float,
    headers: dict[str, str] | None = None,
) -> tuple[WrkResult, CpuMeter]:
    """One wrk run pinned to the client core, with the server tree's CPU seconds around it."""
    with server_meter(srv) as cpu:
        result = wrk(
            url, connections=connections, duration=duration, core=ctx.client_core, headers=headers
        )
    return result, cpu


def server_meter(srv: RunningServer) -> CpuMeter:
    return CpuMeter(srv.pid, ours=procs.live_pids)


def warm_up(ctx: RunContext, url: str, connections: int, d: Durations) -> None:
    wrk(url, connections=connections, duration=d.warmup, core=ctx.client_core)


def per_request(cpu: CpuMeter, result: WrkResult, scale: float) -> float:
    return cpu.seconds / result.requests * scale if result.requests else float("nan")


# --- scenario: 10 KB requests per second ----------------------------------------------------


def measure_small(ctx: RunContext, srv: RunningServer, d: Durations) -> Measurement:
    url = srv.url(SMALL.name)
    expect(url, 200, SMALL.size)
    warm_up(ctx, url, SMALL_CONNECTIONS, d)
    result, cpu = measured_wrk(ctx, srv, url, SMALL_CONNECTIONS, d.small)
    m = Measurement()
    m.add_wrk("wrk", result, cpu)
    m.metrics.update(
        {
            "req_s": result.req_per_s,
            "p50_ms": result.latency_ms["p50"],
            "p99_ms": result.latency_ms["p99"],
            "cpu_us_req": per_request(cpu, result, 1e6),
        }
    )
    return m


def small_ratios(subjects: Sequence[Subject]) -> list[Ratio]:
    rules = [
        Ratio("mediaserve serve / nginx", ("ms-serve", "req_s"), ("nginx", "req_s"), ">=", 0.5),
        Ratio("mediaserve serve / ceiling@granian", ("ms-serve", "req_s"),
              ("ceiling-granian", "req_s"), ">=", 0.8),
        Ratio("mediaserve serve / ceiling@granian (CPU per request)",
              ("ceiling-granian", "cpu_us_req"), ("ms-serve", "cpu_us_req"), ">=", 0.8),
        Ratio("example@gunicorn / ceiling@gunicorn", ("example-gunicorn", "req_s"),
              ("ceiling-gunicorn", "req_s"), ">=", 0.7),
        Ratio("example@granian / ceiling@granian", ("example-granian", "req_s"),
              ("ceiling-granian", "req_s"), ">=", 0.7),
        Ratio("WSGIMedia@gunicorn / ceiling@gunicorn", ("ms-wsgi-gunicorn", "req_s"),
              ("ceiling-gunicorn", "req_s")),
        Ratio("WSGIMedia@granian / ceiling@granian", ("ms-wsgi-granian", "req_s"),
              ("ceiling-granian", "req_s")),
    ]  # fmt: skip
    for s in subjects:
        if s.role == "candidate":
            for anchor in ("django-serve", "whitenoise"):
                rules.append(Ratio(f"{s.key} / {anchor}", (s.key, "req_s"), (anchor, "req_s")))
    return rules


# --- scenario: 100 MB throughput and CPU per GB ------------------------------------------


def measure_large(ctx: RunContext, srv: RunningServer, d: Durations) -> Measurement:
    url = srv.url(LARGE.name)
    expect(url, 200, LARGE.size)
    warm_up(ctx, url, LARGE_CONNECTIONS, d)
    m = Measurement()
    rates, cpu_total, bytes_total = [], 0.0, 0
    for rep in range(d.large_reps):
        result, cpu = measured_wrk(ctx, srv, url, LARGE_CONNECTIONS, d.large)
        m.add_wrk(f"rep{rep + 1}", result, cpu)
        rates.append(result.mb_per_s)
        cpu_total += cpu.seconds
        bytes_total += result.bytes
    m.metrics.update(
        {
            "mb_s": statistics.median(rates),
            "mb_s_min": min(rates),
            "cpu_s_gb": cpu_total / (bytes_total / 1e9) if bytes_total else float("nan"),
        }
    )
    return m


def large_ratios(subjects: Sequence[Subject]) -> list[Ratio]:
    rules = [
        Ratio("default standalone server / nginx CPU s/GB", ("ms-serve-default", "cpu_s_gb"),
              ("nginx", "cpu_s_gb"), "<=", 1.3),
    ]  # fmt: skip
    for s in subjects:
        if s.key == "nginx":
            continue
        cand = s.role == "candidate"
        rules.append(
            Ratio(
                f"{s.key} / nginx MB/s",
                (s.key, "mb_s"),
                ("nginx", "mb_s"),
                ">=" if cand else None,
                0.9 if cand else None,
            )
        )
        rules.append(
            Ratio(
                f"{s.key} / nginx CPU s/GB",
                (s.key, "cpu_s_gb"),
                ("nginx", "cpu_s_gb"),
                "<=" if cand else None,
                2.0 if cand else None,
            )
        )
    return rules  # fmt: skip


# --- scenario: 206 of a 1 MB slice vs 200 of a 1 MB file --------------------------------------


def measure_range(ctx: RunContext, srv: RunningServer, d: Durations) -> Measurement:
    m = Measurement()
    full_url = srv.url(SLICE.name)
    expect(full_url, 200, SLICE.size)
    warm_up(ctx, full_url, SMALL_CONNECTIONS, d)
    result, cpu = measured_wrk(ctx, srv, full_url, SMALL_CONNECTIONS, d.range)
    m.add_wrk("200", result, cpu)
    m.metrics["req_s_200"] = result.req_per_s
    m.metrics["cpu_ms_200"] = per_request(cpu, result, 1e3)

    ranged_url, (first, last) = srv.url(LARGE.name), RANGE
    header = {"Range": f"bytes={first}-{last}"}
    try:
        resp = expect(ranged_url, 206, last - first + 1, header)
    except CheckFailed as exc:
        if exc.response.status == 200:
            m.notes.append("ignores Range: answers 200 with the whole 100 MB file")
            return m
        raise
    wanted = f"bytes {first}-{last}/{LARGE.size}"
    if resp.headers.get("content-range") != wanted:
        m.notes.append(f"Content-Range {resp.headers.get('content-range')!r}, expected {wanted!r}")
    result, cpu = measured_wrk(ctx, srv, ranged_url, SMALL_CONNECTIONS, d.range, header)
    m.add_wrk("206", result, cpu)
    m.metrics["req_s_206"] = result.req_per_s
    m.metrics["cpu_ms_206"] = per_request(cpu, result, 1e3)
    return m


def range_ratios(subjects: Sequence[Subject]) -> list[Ratio]:
    rules = []
    for s in subjects:
        cand = s.role == "candidate"
        rules.append(
            Ratio(
                f"{s.key} 206/200 req/s",
                (s.key, "req_s_206"),
                (s.key, "req_s_200"),
                ">=" if cand else None,
                0.9 if cand else None,
                "bench",
            )
        )
        rules.append(
            Ratio(
                f"{s.key} 206/200 CPU per request",
                (s.key, "cpu_ms_206"),
                (s.key, "cpu_ms_200"),
                "<=" if cand else None,
                1.25 if cand else None,
                "bench",
            )
        )
    return rules  # fmt: skip


# --- scenario: memory during 16 concurrent 1 GB downloads ---------------------------------------


def measure_memory(ctx: RunContext, srv: RunningServer, d: Durations) -> Measurement:
    url = srv.url(HUGE.name)
    expect(url, 200, HUGE.size)
    time.sleep(0.5)
    tree = metrics.process_tree(srv.pid)
    baseline = {pid: metrics.rss_kib(pid) or 0 for pid in tree}
    hwm_reset = all(metrics.reset_hwm(pid) for pid in tree)
    downloads = Downloads(url, MEMORY_DOWNLOADS, duration=d.memory, core=ctx.client_core,
                          log_dir=ctx.workdir, rate=ctx.download_rate)  # fmt: skip
    m = Measurement(commands=[downloads.command])
    with server_meter(srv) as cpu, metrics.RssSampler(srv.pid) as sampler, downloads:
        downloads.wait()
    m.add_noise(cpu)
    per_process: dict[str, dict[str, object]] = {}
    growth_kib = 0
    for pid in sorted(set(tree) | set(sampler.peak_kib)):
        hwm = metrics.hwm_kib(pid) if hwm_reset and pid in baseline else None
        peak = max(hwm or 0, sampler.peak_kib.get(pid, 0))
        base = baseline.get(pid)
        if base is None:
            m.notes.append(f"pid {pid} appeared during the downloads")
            base = peak
        growth_kib = max(growth_kib, peak - base)
        per_process[str(pid)] = {"name": metrics.process_name(pid), "baseline_kib": base,
                                 "peak_kib": peak, "hwm_kib": hwm}  # fmt: skip
    stats = downloads.stats
    if set(stats.statuses) != {"200"}:
        m.notes.append(f"download statuses {stats.statuses}")
    if not hwm_reset:
        m.notes.append("could not reset VmHWM: peak from 50 ms RSS samples only")
    m.raw = {"processes": per_process, "downloads": stats.__dict__, "hwm_reset": hwm_reset}
    m.metrics.update(
        {
            "rss_growth_mb": growth_kib / 1024,
            "downloaded_gb": stats.bytes / 1e9,
            "agg_mb_s": stats.mb_per_s,
            "cpu_s_gb": cpu.seconds / (stats.bytes / 1e9) if stats.bytes else float("nan"),
        }
    )
    return m


def memory_ratios(subjects: Sequence[Subject]) -> list[Ratio]:
    return [
        Ratio(f"{s.key} RSS growth per worker (MB)", (s.key, "rss_growth_mb"), None,
              "<" if s.role == "candidate" else None, 20.0 if s.role == "candidate" else None)
        for s in subjects
    ]  # fmt: skip


# --- scenario: tiny-request latency while large downloads run ----------------------------------


def measure_latency(ctx: RunContext, srv: RunningServer, d: Durations) -> Measurement:
    small, large = srv.url(SMALL.name), srv.url(LARGE.name)
    expect(small, 200, SMALL.size)
    expect(large, 200, LARGE.size)
    warm_up(ctx, small, SMALL_CONNECTIONS, d)
    m = Measurement()
    idle, cpu = measured_wrk(ctx, srv, small, SMALL_CONNECTIONS, d.latency)
    m.add_wrk("idle", idle, cpu)
    settle = 1.0
    downloads = Downloads(large, BACKGROUND_DOWNLOADS, duration=settle + d.latency + 0.5,
                          core=ctx.client_core, log_dir=ctx.workdir, rate=ctx.download_rate,
                          loop=True)  # fmt: skip
    with downloads:
        time.sleep(settle)
        loaded, cpu = measured_wrk(ctx, srv, small, SMALL_CONNECTIONS, d.latency)
    m.add_wrk("loaded", loaded, cpu)
    m.commands.append(downloads.command)
    m.raw["downloads"] = downloads.stats.__dict__
    if set(downloads.stats.statuses) - {"200"}:
        m.notes.append(f"background download statuses {downloads.stats.statuses}")
    m.metrics.update(
        {
            "p99_idle_ms": idle.latency_ms["p99"],
            "p50_loaded_ms": loaded.latency_ms["p50"],
            "p99_loaded_ms": loaded.latency_ms["p99"],
            "req_s_loaded": loaded.req_per_s,
            "bg_mb_s": downloads.stats.mb_per_s,
        }
    )
    return m


def latency_ratios(subjects: Sequence[Subject]) -> list[Ratio]:
    return [
        Ratio(f"{s.key} p99 under load (ms)", (s.key, "p99_loaded_ms"), None,
              "<" if s.role == "candidate" else None, 50.0 if s.role == "candidate" else None)
        for s in subjects
    ]  # fmt: skip


# --- scenario: the example as shipped (example/run.sh), its ceiling and nginx ----------------

PRODUCT = "product.jpg"  # a product image made by the example's own `manage.py seed`


def make_product_image(ctx: RunContext) -> None:
    """Seed one product in a scratch var directory and keep its image as ``product.jpg``."""
    var = ctx.workdir / "seed-var"
    env = {**os.environ, "EXAMPLE_VAR_DIR": str(var), "MEDIA_ROOT": "",
           "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
           "DJANGO_SETTINGS_MODULE": "shop.settings",
           "PYTHONPATH": os.pathsep.join([str(ctx.src), str(ctx.example.directory)])}  # fmt: skip
    for step in (["migrate", "--noinput", "-v", "0"], ["seed", "--count", "1", "--no-video"]):
        done = subprocess.run([str(ctx.python), "manage.py", *step], cwd=ctx.example.directory,
                              env=env, capture_output=True, text=True, check=False)  # fmt: skip
        if done.returncode != 0:
            raise procs.HarnessError(f"manage.py {' '.join(step)} failed:\n{done.stderr[-2000:]}")
    images = sorted((var / "media" / "products").glob("*.jpg"))
    if not images:
        raise procs.HarnessError(f"the example's seed made no product image under {var}")
    ctx.media.add_copy(PRODUCT, images[0])


def measure_shipped(ctx: RunContext, srv: RunningServer, d: Durations) -> Measurement:
    m = Measurement()
    targets = [("", SMALL.name, SMALL.size)]
    if not srv.key.startswith("ceiling"):  # the ceiling answers every path with 10 KiB
        targets.append(("_product", PRODUCT, ctx.media.files[PRODUCT].size))
    for suffix, name, size in targets:
        url = srv.url(name)
        expect(url, 200, size)
        warm_up(ctx, url, SMALL_CONNECTIONS, d)
        result, cpu = measured_wrk(ctx, srv, url, SMALL_CONNECTIONS, d.small)
        m.add_wrk(name, result, cpu)
        m.metrics[f"req_s{suffix}"] = result.req_per_s
        m.metrics[f"cpu_us{suffix}"] = per_request(cpu, result, 1e6)
        m.metrics[f"p99_ms{suffix}"] = result.latency_ms["p99"]
    return m


def shipped_ratios(subjects: Sequence[Subject]) -> list[Ratio]:
    return [
        Ratio("example as shipped: ceiling CPU/req / example CPU/req (10 KiB)",
              ("ceiling-shipped", "cpu_us"), ("example-shipped", "cpu_us"), ">=", 0.7),
        Ratio("example as shipped / its ceiling req/s (10 KiB)", ("example-shipped", "req_s"),
              ("ceiling-shipped", "req_s")),
        Ratio("example as shipped / nginx req/s (product image)",
              ("example-shipped", "req_s_product"), ("nginx", "req_s_product"), ">=", 0.25),
        Ratio("example as shipped / nginx CPU/req (product image)",
              ("example-shipped", "cpu_us_product"), ("nginx", "cpu_us_product")),
    ]  # fmt: skip


def server_ratios(subjects: Sequence[Subject]) -> list[Ratio]:
    """Each setting's example against its own ceiling (CPU per request, inverted)."""
    keys = {s.key for s in subjects}
    return [
        Ratio(f"{s.key}: ceiling CPU/req / example CPU/req", (f"{s.key}-ceiling", "cpu_us_req"),
              (s.key, "cpu_us_req"))
        for s in subjects if f"{s.key}-ceiling" in keys
    ]  # fmt: skip


# --- the scenario table ---------------------------------------------------------------------


NOISE = Metric(OTHER_CPU, "other CPU%")  # worst window; see Measurement.add_noise


def _serves_files(s: Subject) -> bool:
    return "files" in s.tags


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "small", "10 KB file: requests per second",
        f"wrk -t1 -c{SMALL_CONNECTIONS} on /media/small.bin (10 KiB), after a warm-up run",
        select=lambda s: not s.tags & {"shipped", "variant", "default-server"},
        measure=measure_small,
        columns=(Metric("req_s", "req/s"), Metric("p50_ms", "p50 ms", 2),
                 Metric("p99_ms", "p99 ms", 2), Metric("cpu_us_req", "CPU us/req", 1), NOISE),
        ratios=small_ratios,
        compare=(Compare("req_s", True), Compare("cpu_us_req", False),
                 Compare("p99_ms", False, gated=False)),
    ),
    Scenario(
        "large", "100 MB file: throughput and server CPU per GB",
        f"wrk -t1 -c{LARGE_CONNECTIONS} on /media/large.bin (100 MiB), repeated; "
        "MB/s is the median repetition, CPU s/GB is total server CPU / total GB (10^9 B)",
        select=lambda s: _serves_files(s) or "default-server" in s.tags,
        measure=measure_large,
        columns=(Metric("mb_s", "MB/s"), Metric("mb_s_min", "min MB/s"),
                 Metric("cpu_s_gb", "CPU s/GB", 3), NOISE),
        ratios=large_ratios,
        compare=(Compare("mb_s", True), Compare("cpu_s_gb", False)),
    ),
    Scenario(
        "range", "206 of a 1 MB slice vs 200 of a 1 MB file",
        f"wrk -t1 -c{SMALL_CONNECTIONS}: GET /media/slice.bin (1 MiB) vs GET /media/large.bin "
        f"with Range: bytes={RANGE[0]}-{RANGE[1]}; CPU is server ms per request",
        select=_serves_files,
        measure=measure_range,
        columns=(Metric("req_s_200", "200 req/s"), Metric("req_s_206", "206 req/s"),
                 Metric("cpu_ms_200", "200 CPU ms", 3), Metric("cpu_ms_206", "206 CPU ms", 3),
                 NOISE),
        ratios=range_ratios,
        compare=(Compare("req_s_200", True), Compare("req_s_206", True),
                 Compare("cpu_ms_200", False), Compare("cpu_ms_206", False)),
    ),
    Scenario(
        "memory", "memory: 16 concurrent downloads of a 1 GB file",
        f"{MEMORY_DOWNLOADS} concurrent curl downloads of /media/huge.bin (1 GiB), each "
        "rate-limited (slow clients keep responses open), capped in time; growth = peak "
        "(VmHWM after reset, and 50 ms VmRSS samples) - VmRSS before, max over the processes",
        select=_serves_files,
        measure=measure_memory,
        columns=(Metric("rss_growth_mb", "RSS growth MB", 1),
                 Metric("downloaded_gb", "downloaded GB", 2), Metric("agg_mb_s", "agg MB/s"),
                 Metric("cpu_s_gb", "CPU s/GB", 3), NOISE),
        ratios=memory_ratios,
        compare=(Compare("cpu_s_gb", False), Compare("rss_growth_mb", False, gated=False),
                 Compare("agg_mb_s", True, gated=False)),
        setup=lambda ctx: ctx.media.add(HUGE),
        teardown=lambda ctx: ctx.media.remove(HUGE),
    ),
    Scenario(
        "latency", "async servers: p99 of 10 KB requests while 8 large downloads run",
        f"wrk -t1 -c{SMALL_CONNECTIONS} --latency on small.bin, idle and then while "
        f"{BACKGROUND_DOWNLOADS} looped rate-limited curl downloads of large.bin run",
        select=lambda s: "async" in s.tags or "reference" in s.tags,
        measure=measure_latency,
        columns=(Metric("p99_idle_ms", "idle p99 ms", 2), Metric("p50_loaded_ms", "p50 ms", 2),
                 Metric("p99_loaded_ms", "p99 ms", 2), Metric("req_s_loaded", "req/s"),
                 Metric("bg_mb_s", "bg MB/s"), NOISE),
        ratios=latency_ratios,
        compare=(Compare("p99_loaded_ms", False), Compare("req_s_loaded", True),
                 Compare("p99_idle_ms", False, gated=False)),
    ),
    Scenario(
        "shipped", "the example as scripts/example.sh starts it, its ceiling, nginx",
        f"wrk -t1 -c{SMALL_CONNECTIONS} on small.bin (10 KiB) and on {PRODUCT} (a product image "
        "made by the example's seed), each after a warm-up run; example/run.sh as shipped "
        "(server, workers, threads, access log), the ceiling under the same command line",
        select=lambda s: "shipped" in s.tags or s.key == "nginx",
        measure=measure_shipped,
        columns=(Metric("req_s", "10K req/s"), Metric("cpu_us", "10K CPU us", 1),
                 Metric("req_s_product", "image req/s"),
                 Metric("cpu_us_product", "image CPU us", 1), NOISE),
        ratios=shipped_ratios,
        compare=(Compare("req_s", True), Compare("cpu_us", False),
                 Compare("req_s_product", True), Compare("cpu_us_product", False)),
        setup=make_product_image,
        teardown=lambda ctx: None,
    ),
    Scenario(
        "servers", "where the shipped deployment's time goes: run.sh's server settings",
        f"wrk -t1 -c{SMALL_CONNECTIONS} on small.bin (10 KiB) after a warm-up run; "
        "example/run.sh with WEB_SERVER, WEB_WORKERS, WEB_THREADS, ACCESS_LOG set per row, "
        "the example and the bare ceiling (WSGI_APP) under each",
        select=lambda s: "variant" in s.tags,
        measure=measure_small,
        columns=(Metric("req_s", "req/s"), Metric("p99_ms", "p99 ms", 2),
                 Metric("cpu_us_req", "CPU us/req", 1), NOISE),
        ratios=server_ratios,
    ),
)  # fmt: skip

BY_NAME = {s.name: s for s in SCENARIOS}


# --- running -------------------------------------------------------------------------------------


FAILURES = (procs.HarnessError, OSError, http.client.HTTPException)


def _error(exc: BaseException) -> str:
    return f"error: {exc}" if str(exc) else f"error: {type(exc).__name__}"


def run_subject(ctx: RunContext, scenario: Scenario, subject: Subject, d: Durations) -> Row:
    row = Row(subject.key, subject.label, subject.role, "ok")
    reason = subject.unavailable(ctx)
    if reason:
        row.status = f"unavailable: {reason}"
        return row
    try:
        dep = subject.deploy(ctx, subject)
        with running(ctx, subject.key, subject.server, dep) as srv:
            row.commands.append(srv.command)
            row.imports = srv.imports
            m = scenario.measure(ctx, srv, d)
    except FAILURES as exc:
        row.status = _error(exc)
        return row
    row.metrics, row.raw, row.notes = m.metrics, m.raw, m.notes
    row.commands += m.commands
    return row


@dataclass(frozen=True)
class ABPlan:
    """A ``--baseline`` run: each candidate under both trees, ``rounds`` windows each."""

    before: RunContext  # imports the baseline export's src/ (and example/)
    after: RunContext  # imports the working tree's
    rounds: int
    floor: float  # after/before must be >= floor (<= 1/floor for costs)


def run_ab(
    plan: ABPlan,
    scenario: Scenario,
    subject: Subject,
    d: Durations,
    progress: Callable[[str], None] = lambda msg: None,
) -> list[Row]:
    """Start the candidate twice (baseline tree, working tree) side by side on the server
    core, then measure them in turn, before-after-before-after..., ``plan.rounds`` windows
    each: slow drifts of a shared machine (another job starting, the CPU's clock) land on
    both sides instead of on whichever ran second. Each row keeps the median window."""
    sides = (("before", plan.before), ("after", plan.after))
    rows = {name: Row(subject.key, subject.label, subject.role, "ok", tree=name)
            for name, _ in sides}  # fmt: skip
    measured: dict[str, list[Measurement]] = {name: [] for name, _ in sides}
    with contextlib.ExitStack() as stack:
        servers: dict[str, RunningServer] = {}
        for name, ctx in sides:
            row = rows[name]
            reason = subject.unavailable(ctx)
            if reason:
                row.status = f"unavailable: {reason}"
                continue
            try:
                dep = subject.deploy(ctx, subject)
                srv = stack.enter_context(
                    running(ctx, f"{subject.key}-{name}", subject.server, dep)
                )
            except FAILURES as exc:
                row.status = _error(exc)
                continue
            servers[name] = srv
            row.commands.append(srv.command)
            row.imports = srv.imports
        for rnd in range(plan.rounds):
            for name, ctx in sides:
                srv_or_none = servers.get(name)
                if srv_or_none is None or rows[name].status != "ok":
                    continue
                progress(f"[{scenario.name}] {subject.key} {name} window {rnd + 1}/{plan.rounds}")
                try:
                    measured[name].append(scenario.measure(ctx, srv_or_none, d))
                except FAILURES as exc:
                    rows[name].status = _error(exc)
    for name, row in rows.items():
        if row.status == "ok" and measured[name]:
            m = merge_windows(measured[name])
            row.metrics, row.raw, row.notes = m.metrics, m.raw, m.notes
            row.commands += m.commands
            row.windows = [dict(w.metrics) for w in measured[name]]
    return [rows[name] for name, _ in sides]


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def merge_windows(windows: Sequence[Measurement]) -> Measurement:
    """One measurement from several windows: the median of each metric (the noise share:
    the worst window), every window's raw numbers, the commands and notes once each."""
    out = Measurement(raw={"windows": [w.raw for w in windows]})
    keys = dict.fromkeys(k for w in windows for k in w.metrics)
    for key in keys:
        values = [w.metrics[key] for w in windows if _finite(w.metrics.get(key))]
        if values:
            out.metrics[key] = max(values) if key == OTHER_CPU else statistics.median(values)
    out.commands = list(dict.fromkeys(c for w in windows for c in w.commands))
    out.notes = list(dict.fromkeys(n for w in windows for n in w.notes))
    return out


def compare_trees(scenario: Scenario, rows: Sequence[Row], floor: float) -> list[Comparison]:
    """after/before per candidate and ``scenario.compare`` metric, against ``floor``."""
    columns = {c.key: c for c in scenario.columns}
    pairs: dict[str, dict[str, Row]] = {}
    for row in rows:
        if row.tree:
            pairs.setdefault(row.subject, {})[row.tree] = row
    out = []
    for key, pair in pairs.items():
        if set(pair) != {"before", "after"}:
            continue
        for spec in scenario.compare:
            out.append(_compare(key, pair["before"], pair["after"], spec, columns, floor))
    return out


def _compare(
    key: str, before: Row, after: Row, spec: Compare, columns: dict[str, Metric], floor: float
) -> Comparison:
    column = columns.get(spec.metric, Metric(spec.metric, spec.metric, 2))
    limit = floor if spec.higher_is_better else 1 / floor
    op = ">=" if spec.higher_is_better else "<="
    b, a = before.metrics.get(spec.metric), after.metrics.get(spec.metric)
    cmp = Comparison(
        key, after.label, spec.metric, column.header, column.digits, b, a, None,
        f"{op} {limit:.4g}" if spec.gated else "-", "n/a",
        [w[spec.metric] for w in before.windows if _finite(w.get(spec.metric))],
        [w[spec.metric] for w in after.windows if _finite(w.get(spec.metric))],
    )  # fmt: skip
    failed = [f"{r.tree} {r.status.split(':')[0]}" for r in (before, after) if r.status != "ok"]
    if failed:
        cmp.detail = ", ".join(failed)
    elif b is None or a is None or not math.isfinite(b) or not math.isfinite(a):
        cmp.detail = f"no {spec.metric}"
    elif b == 0:
        cmp.detail = "before is 0"
    else:
        cmp.ratio = a / b
        ok = cmp.ratio >= limit if spec.higher_is_better else cmp.ratio <= limit
        cmp.verdict = ("PASS" if ok else "MISS") if spec.gated else "info"
        busy = max(r.metrics.get(OTHER_CPU, 0.0) for r in (before, after))
        if busy >= NOISY_PCT:
            cmp.detail = f"busy machine (other CPU up to {busy:.0f}%)"
    return cmp


def evaluate(rule: Ratio, rows: dict[str, Row]) -> RatioResult:
    target = f"{rule.op} {rule.target:g}" if rule.op and rule.target is not None else "-"
    if rule.origin == "bench" and rule.op:
        target += " (bench)"

    def value(side: tuple[str, str]) -> float | str:
        row = rows.get(side[0])
        if row is None:
            return f"{side[0]} not run"
        if row.status != "ok":
            return f"{side[0]} {row.status.split(':')[0]}"
        v = row.metrics.get(side[1])
        return f"{side[0]} has no {side[1]}" if v is None or v != v else v

    num = value(rule.num)
    den = value(rule.den) if rule.den else 1.0
    if isinstance(num, str) or isinstance(den, str):
        return RatioResult(
            rule.label, None, target, "n/a", num if isinstance(num, str) else str(den)
        )
    if den == 0:
        return RatioResult(rule.label, None, target, "n/a", "denominator is 0")
    ratio = num / den
    if not rule.op or rule.target is None:
        return RatioResult(rule.label, ratio, target, "info")
    ok = {">=": ratio >= rule.target, "<=": ratio <= rule.target, "<": ratio < rule.target}[rule.op]
    return RatioResult(rule.label, ratio, target, "PASS" if ok else "MISS")


def run_scenario(
    ctx: RunContext,
    scenario: Scenario,
    d: Durations,
    subjects: Sequence[Subject] = SUBJECTS,
    progress: Callable[[str], None] = lambda msg: None,
    ab: ABPlan | None = None,
) -> ScenarioResult:
    """Measure every chosen subject once; with ``ab``, each candidate under both trees
    (:func:`run_ab`) while the anchors are measured once. The anchor ratios and targets
    are evaluated on the working tree's (``after``) rows."""
    started = time.monotonic()
    chosen = [s for s in subjects if scenario.select(s)]
    rows: list[Row] = []
    scenario.setup(ctx)
    try:
        for subject in chosen:
            progress(f"[{scenario.name}] {subject.key} ...")
            if ab is not None and subject.role == "candidate":
                new = run_ab(ab, scenario, subject, d, progress)
            else:
                new = [run_subject(ctx, scenario, subject, d)]
            rows += new
            for row in new:
                tree = f" {row.tree}" if row.tree else ""
                progress(f"[{scenario.name}] {subject.key}{tree}: {row.status.splitlines()[0]}")
    finally:
        scenario.teardown(ctx)
    by_key = {r.subject: r for r in rows if r.tree in ("", "after")}
    ratios = [
        evaluate(rule, by_key)
        for rule in scenario.ratios(chosen)
        if rule.num[0] in by_key and (rule.den is None or rule.den[0] in by_key)
    ]
    comparisons = compare_trees(scenario, rows, ab.floor) if ab is not None else []
    return ScenarioResult(
        scenario.name, scenario.title, scenario.load, list(scenario.columns), rows, ratios,
        time.monotonic() - started, comparisons,
    )  # fmt: skip
