"""The performance report: every figure of the README's performance section, in one run.

    .venv/bin/python -m bench.run            # full report (several minutes)
    .venv/bin/python -m bench.run --quick    # one run each, 200,000-record RSS skipped

Starts the emulator as its own process (so the raw loop does not share a GIL with the server),
measures, prints a Markdown table and writes it with a PNG chart under bench/results/. The
machine is noisy: medians of several runs, and ratios measured in the same run are what count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests

from bench.messages_concurrency import read_phase
from bench.raw_reference import raw_loop
from integration_tests.emulator import TEST_API_KEY, Emulator, generate
from integration_tests.emulator.process import emulator_process
from integration_tests.harness import CONNECTOR_ROOT, cli_path, configured_catalog

RESULTS = CONNECTOR_ROOT / "bench" / "results"
# A start_date below every record keeps a first read to the newest-first chain alone: the
# single chain the two-ended read is measured against.
ONE_CHAIN = "2000-01-01T00:00:00Z"


@dataclass
class ConnectorRun:
    seconds: float  # process start to exit
    reading_seconds: float  # first API request to exit: the run without its startup
    peak_rss_mib: float


def request_arrivals(base_url: str) -> list[float]:
    """When each request reached the emulator (epoch seconds), oldest first."""
    root = base_url.rsplit("/v1", 1)[0]
    return requests.get(f"{root}/_emulator/requests", timeout=10).json()["arrivals"]


def request_count(base_url: str) -> int:
    return len(request_arrivals(base_url))


def connector_read(
    base_url: str,
    tmp: Path,
    stream: str = "chat_completions",
    mode: str = "full_refresh",
    state=None,
    drain_bytes_per_second: float | None = None,
    **settings: object,
) -> tuple[ConnectorRun, list]:
    config = {"api_key": TEST_API_KEY, "base_url": base_url, "lookback_window_minutes": 0}
    config.update(settings)
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(configured_catalog({stream: mode})))
    args = [
        cli_path(),
        "read",
        "--config",
        str(tmp / "config.json"),
        "--catalog",
        str(tmp / "catalog.json"),
    ]
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp / "state.json")]
    seen = request_count(base_url)
    started, started_epoch = time.perf_counter(), time.time()
    with (tmp / "out.jsonl").open("wb") as sink:
        if drain_bytes_per_second is None:
            process = subprocess.Popen(args, stdout=sink)
        else:  # a slow destination: stdout is taken at this pace, the pipe fills, writes block
            process = subprocess.Popen(args, stdout=subprocess.PIPE)
            drain_slowly(process.stdout, sink, drain_bytes_per_second)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    first_request = request_arrivals(base_url)[seen]
    reading = seconds - (first_request - started_epoch)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"the connector failed with exit code {process.returncode}")
    states = [
        json.loads(line)["state"]
        for line in (tmp / "out.jsonl").read_bytes().splitlines()
        if b'"type":"STATE"' in line
    ]
    return ConnectorRun(seconds, reading, usage.ru_maxrss / 1024), states


def catch_up_state(base_url: str, new_pages: int) -> list[dict]:
    """The state of a sync that finished `new_pages` pages of 100 ago: its anchor is the first
    completion below them."""
    after = None
    for _ in range(new_pages + 1):
        params = {"order": "desc", "limit": 100, **({"after": after} if after else {})}
        headers = {"Authorization": f"Bearer {TEST_API_KEY}"}
        page = requests.get(f"{base_url}/chat/completions", params=params, headers=headers)
        data = page.json()["data"]
        after = data[-1]["id"]
    anchor = data[0]
    stream_state = {"state_version": 3, "created": str(anchor["created"]), "anchor": anchor["id"]}
    descriptor = {"name": "chat_completions"}
    return [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": descriptor, "stream_state": stream_state},
        }
    ]


def drain_slowly(stream, sink, bytes_per_second: float) -> None:
    started, total = time.perf_counter(), 0
    while chunk := stream.read(16_384):
        sink.write(chunk)
        total += len(chunk)
        ahead = total / bytes_per_second - (time.perf_counter() - started)
        if ahead > 0:
            time.sleep(ahead)


def spec_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([cli_path(), "spec"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def timed_raw(base_url: str, tmp: Path) -> float:
    started = time.perf_counter()
    raw_loop(base_url, tmp / "raw.jsonl")
    return time.perf_counter() - started


def backpressure_rss(base_url: str, tmp: Path) -> float:
    """Peak RSS of a full refresh whose stdout is read at a quarter of the speed the connector
    writes it unhindered (measured just before, in the same run)."""
    free, _ = connector_read(base_url, tmp)
    pace = (tmp / "out.jsonl").stat().st_size / free.reading_seconds / 4
    return connector_read(base_url, tmp, drain_bytes_per_second=pace)[0].peak_rss_mib


def median(values) -> float:
    return statistics.median(list(values))


def measure(runs: int, big: int | None) -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        startup = median(spec_seconds() for _ in range(runs))
        figures["startup_s"] = startup
        with emulator_process(20_000) as url:
            raw = median(timed_raw(url, tmp) for _ in range(runs))
            reads = [connector_read(url, tmp) for _ in range(runs)]
            figures.update(
                raw_s=raw,
                connector_s=median(run.seconds for run, _ in reads),
                connector_reading_s=median(run.reading_seconds for run, _ in reads),
                rss_20k_mib=max(r.peak_rss_mib for r, _ in reads),
            )
            before = request_count(url)
            connector_read(url, tmp, mode="incremental", state=[reads[0][1][-1]])
            figures["no_news_requests"] = request_count(url) - before
            figures["rss_backpressure_mib"] = backpressure_rss(url, tmp)
        with emulator_process(20_000, latency_ms=50) as url:
            figures["latency_connector_s"] = median(
                connector_read(url, tmp)[0].reading_seconds for _ in range(runs)
            )
            figures["latency_one_chain_s"] = median(
                connector_read(url, tmp, start_date=ONE_CHAIN)[0].reading_seconds
                for _ in range(runs)
            )
            figures["latency_raw_s"] = median(timed_raw(url, tmp) for _ in range(runs))
            figures["latency_bound_s"] = 200 * 0.05  # 200 pages of 100
            behind = catch_up_state(url, 50)
            figures["catch_up_s"] = median(
                connector_read(url, tmp, mode="incremental", state=behind)[0].reading_seconds
                for _ in range(runs)
            )
            figures["catch_up_bound_s"] = 50 * 0.05
        if big:
            with emulator_process(big) as url:
                figures["big_records"] = big
                figures["rss_big_mib"] = connector_read(url, tmp)[0].peak_rss_mib
        emulator = Emulator(generate(300), latency_s=0.05)
        with emulator:
            runs8 = [read_phase(emulator, 8) for _ in range(runs)]
            requests_made = runs8[0][1]
            figures["messages_speedup_8"] = requests_made * 0.05 / median(s for s, _ in runs8)
    return figures


def table(f: dict) -> str:
    work = f["connector_reading_s"]
    lat_work = f["latency_connector_s"]
    rows = [
        (
            "Full refresh, 20,000 records, 0 ms: connector / raw loop",
            f"{f['connector_s'] / f['raw_s']:.1f}x",
            "(with startup)",
        ),
        (
            "... excluding startup (first request to exit)",
            f"{work / f['raw_s']:.2f}x",
            "target <= 1.6x",
        ),
        (
            "Records/s (connector, excluding startup)",
            f"{20_000 / work:,.0f}",
            f"raw loop {20_000 / f['raw_s']:,.0f}",
        ),
        (
            "Full refresh at 50 ms/request, both ends: read / (pages x latency)",
            f"{lat_work / f['latency_bound_s']:.2f}x",
            "target <= 0.60x; excluding startup",
        ),
        (
            "... newest first alone (a start_date) / (pages x latency)",
            f"{f['latency_one_chain_s'] / f['latency_bound_s']:.2f}x",
            "the single chain of 1.0",
        ),
        (
            "... the raw loop at 50 ms / (pages x latency)",
            f"{f['latency_raw_s'] / f['latency_bound_s']:.2f}x",
            "same emulator, one chain, no prefetch",
        ),
        (
            "Incremental catch-up of 50 new pages at 50 ms / (50 x latency)",
            f"{f['catch_up_s'] / f['catch_up_bound_s']:.2f}x",
            "target <= 0.65x; lookback 0",
        ),
        (
            "Incremental sync with nothing new: requests",
            f"{f['no_news_requests']}",
            "target <= 2; lookback 0",
        ),
        ("Peak RSS, 20,000 records", f"{f['rss_20k_mib']:.0f} MiB", "target <= 120 MiB"),
        (
            "Peak RSS, 20,000 records, stdout read at 1/4 speed",
            f"{f['rss_backpressure_mib']:.0f} MiB",
            "target <= 150 MiB (a slow destination)",
        ),
    ]
    if "rss_big_mib" in f:
        rows.append(
            (
                f"Peak RSS, {f['big_records']:,} records",
                f"{f['rss_big_mib']:.0f} MiB",
                "flat = same as 20,000",
            )
        )
    rows += [
        ("Startup (`spec`)", f"{f['startup_s']:.2f} s", ""),
        (
            "Startup of `read` (to its first request)",
            f"{f['connector_s'] - f['connector_reading_s']:.2f} s",
            "",
        ),
        (
            "Messages, 300 completions, 50 ms, 8 workers: speed-up",
            f"{f['messages_speedup_8']:.1f}x",
            "target >= 4.8x",
        ),
    ]
    lines = ["| Figure | Value | Note |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def chart(f: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    work = f["connector_reading_s"]
    labels = ["raw loop", "connector\n(excl. startup)", "connector\n(with startup)"]
    values = [f["raw_s"], work, f["connector_s"]]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(labels, values, color=["#888", "#1f77b4", "#aec7e8"])
    left.set_ylabel("seconds")
    left.set_title("Full refresh, 20,000 records, 0 ms latency")
    bound = f["latency_bound_s"]
    right.bar(
        ["pages x latency", "raw loop", "newest first\nalone", "both ends"],
        [bound, f["latency_raw_s"], f["latency_one_chain_s"], f["latency_connector_s"]],
        color=["#ccc", "#888", "#aec7e8", "#1f77b4"],
    )
    right.set_title("Full refresh at 50 ms per request")
    figure.suptitle(
        f"source-openai-chat, {date.today()}, {platform.machine()}, {os.cpu_count()} cores"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run each, no 200,000 records")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big", type=int, default=200_000)
    args = parser.parse_args()
    runs, big = (1, None) if args.quick else (args.runs, args.big)
    figures = measure(runs, big)
    RESULTS.mkdir(parents=True, exist_ok=True)
    header = (
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; medians of {runs} run(s)."
    )
    report = f"{header}\n\n{table(figures)}\n"
    (RESULTS / "results.md").write_text(report)
    (RESULTS / "results.json").write_text(json.dumps(figures, indent=2))
    chart(figures, RESULTS / "chart.png")
    print(report)
    print(f"Written: {RESULTS / 'results.md'}, {RESULTS / 'chart.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
