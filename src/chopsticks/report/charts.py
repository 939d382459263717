"""The report's charts, drawn with matplotlib (imported here only, when a chart is drawn).

matplotlib because it renders static SVG itself: the report stays one offline file with no
JavaScript and no CDN, light enough to mail, and the same figures save as PNG for `report plot`.
Figures are made with matplotlib.figure.Figure directly (no pyplot, no global state)."""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from chopsticks.metrics.histogram import LOWER_NS, UPPER_NS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from chopsticks.report.compare import Change
    from chopsticks.report.result import Result

WIDTH_IN = 9.0
LEGEND_IN = 1.7                      # right of the axes


@dataclass(frozen=True)
class Chart:
    """One chart of a page: its title, height in inches, what draws it into a (sub)figure, and the
    room its y labels need."""
    title: str
    height_in: float
    draw: Callable
    left_in: float = 0.8

    def draw_into(self, fig) -> None:
        """Draw with fixed margins in inches (legends go right of the axes): matplotlib's
        constrained layout measured every tick label again and cost more than the drawing."""
        self.draw(fig)
        fig.subplots_adjust(left=self.left_in / WIDTH_IN, right=1 - LEGEND_IN / WIDTH_IN,
                            bottom=0.5 / self.height_in, top=1 - 0.3 / self.height_in,
                            hspace=0.6 / max(1.0, self.height_in / 2))


STYLE = {"svg.fonttype": "none", "svg.hashsalt": "chopsticks", "path.simplify": True,
         "font.size": 9, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
         "axes.spines.right": False, "legend.fontsize": 8, "legend.frameon": False}
SPECTRUM_NINES = 5                   # the spectrum's x axis runs from p0 to p99.999
HIST_GROUP = 16                      # the latency histogram's bars: 16 recorder buckets (1/8 octave)
GROUPS_PER_OCTAVE = 8
PERCENTILE_COLUMNS = (("lat_p50_us", "p50", "-"), ("lat_p99_us", "p99", "--"), ("lat_p99_9_us", "p99.9", ":"))


def figure(height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_IN, height))


def render(fig: Figure, fmt: str = "svg", **kw) -> bytes:
    import matplotlib

    with matplotlib.rc_context(STYLE):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, **kw)
    return buf.getvalue()


def inline_svg(chart: Chart) -> str:
    """The chart as an <svg> element to put in an HTML page (XML prolog and DOCTYPE dropped)."""
    fig = figure(chart.height_in)
    chart.draw_into(fig)
    text = render(fig).decode()
    return text[text.index("<svg"):]


def _legend(ax) -> None:
    """A legend right of the axes, off the data, when something is labelled (a run that
    completed nothing draws empty axes)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _phases(ax, result: Result) -> None:
    """Shade the ramp and drain seconds (they are not in the summary's figures) and mark the
    seconds the cluster watch saw something change (the report's table says what)."""
    for n, second in enumerate(sorted({s for s, _ in result.cluster_events})):
        ax.axvline(second + 0.5, color="C3", ls=":", lw=0.9, label=None if n else "cluster event")
    if not result.ops:
        return
    series = result.series(result.ops[0])
    for phase in ("ramp", "drain"):
        secs = series["second"][series["phase"] == phase]
        if len(secs):
            ax.axvspan(secs.min(), secs.max() + 1, color="0.85", lw=0, label=phase, zorder=0)   # under the data


def _timeline(ax, result: Result, column: str, ylabel: str, label=lambda op: op, xlabel: bool = True) -> None:
    for op in result.own_ops:
        s = result.series(op)
        if len(s["second"]):
            ax.stairs(s[column], np.append(s["second"], s["second"][-1] + 1), baseline=None, lw=1, label=label(op))
    _phases(ax, result)
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel("second")
    ax.set_ylim(bottom=0)
    _legend(ax)


def throughput(fig, result: Result) -> None:
    """IOPS and MiB/s per second, per op."""
    top, bottom = fig.subplots(2, 1, sharex=True)
    _timeline(top, result, "iops", "IOPS", xlabel=False)
    _timeline(bottom, result, "mib_s", "MiB/s")
    top.set_title("Throughput per second")


def latency_timeline(fig, result: Result) -> None:
    """p50, p99 and p99.9 of each second, per op (log scale)."""
    ax = fig.add_subplot()
    for i, op in enumerate(result.ops):
        s = result.series(op)
        for column, name, style in PERCENTILE_COLUMNS:
            ax.plot(s["second"] + 0.5, s[column], ls=style, lw=1, color=f"C{i}", label=f"{op} {name}")
    _phases(ax, result)
    ax.set_yscale("log")
    ax.set_ylabel("latency µs")
    ax.set_xlabel("second")
    ax.set_title("Latency percentiles per second")
    _legend(ax)


def _spectrum(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nines, latency µs) of a histogram: x = -log10(1 - fraction below), one point per bucket."""
    counts = hist.astype(float)
    total = counts.sum()
    keep = np.nonzero(counts)[0]
    below = np.cumsum(counts)[keep] / total
    nines = -np.log10(np.maximum(1.0 - below, 10.0 ** -SPECTRUM_NINES))
    return np.concatenate([[0.0], nines]), np.concatenate([[LOWER_NS[keep[0]]], UPPER_NS[keep]]) / 1e3


def _nines_axis(ax) -> None:
    ticks = range(SPECTRUM_NINES + 1)
    ax.set_xticks(list(ticks), ["p0", "p90", "p99", "p99.9", "p99.99", "p99.999"][: len(ticks)])
    ax.set_xlim(0, SPECTRUM_NINES)


def spectrum(fig, results: list[Result]) -> None:
    """Latency against percentile on a log 'nines' axis (HDR style), per op and run."""
    ax = fig.add_subplot()
    for r, result in enumerate(results):
        for i, op in enumerate(result.ops):
            hist = result.histogram(op)
            if hist.sum():
                x, y = _spectrum(hist)
                name = op if len(results) == 1 else f"{result.name} {op}"
                ax.step(x, y, where="post", lw=1.2, color=f"C{i if len(results) == 1 else r}",
                        ls=("-", "--", ":", "-.")[i % 4] if len(results) > 1 else "-", label=name)
    ax.set_yscale("log")
    _nines_axis(ax)
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency µs")
    ax.set_title("Latency by percentile (whole measured time)")
    _legend(ax)


def latency_histogram(fig, result: Result) -> None:
    """Share of ops per 1/8 octave of latency, per op, on a log latency axis."""
    ax = fig.add_subplot()
    groups = np.arange(0, len(LOWER_NS), HIST_GROUP)
    edges = np.append(LOWER_NS[groups], UPPER_NS[-1]).astype(float) / 1e3
    edges[0] = edges[1] / 2                 # the first band starts at 0 ns; on a log axis, at half its top
    for op in result.ops:
        hist = result.histogram(op)
        if hist.sum():
            # Groups within an octave are linear, so their log widths differ: divide by it.
            share = np.add.reduceat(hist.astype(float), groups) / hist.sum() * 100
            share /= np.log2(edges[1:] / edges[:-1]) * GROUPS_PER_OCTAVE
            lo, hi = np.nonzero(share)[0][[0, -1]]
            ax.stairs(share[lo:hi + 1], edges[lo:hi + 2], baseline=None, lw=1.2, label=op)
    ax.set_xscale("log")
    ax.set_xlabel("latency µs")
    ax.set_ylabel("% of ops per 1/8 octave")
    ax.set_title("Latency histogram")
    _legend(ax)


def errors_and_stalls(fig, result: Result) -> None:
    """Failed ops per second, ops in flight and stalled ops (past --op-timeout) per second, per op."""
    top, bottom = fig.subplots(2, 1, sharex=True)
    _timeline(top, result, "errors", "errors / s", xlabel=False)
    top.set_title("Errors, in-flight and stalled operations per second")
    _timeline(bottom, result, "inflight", "in flight", label=lambda op: f"{op} in flight")
    for i, op in enumerate(result.own_ops):
        s = result.series(op)
        if len(s["second"]):
            bottom.stairs(s["stalled"], np.append(s["second"], s["second"][-1] + 1), baseline=None, lw=1.2, ls="--",
                          color=f"C{i}", label=f"{op} stalled")
    _legend(bottom)


def _error_kinds(result: Result) -> list[tuple[str, int]]:
    return [(f"{op} {kind}", n) for op, kinds in sorted(result.doc.get("errors_by_kind", {}).items())
            for kind, n in sorted(kinds.items())]


def errors_by_kind(fig, result: Result) -> None:
    """Failed ops by kind over the measured time."""
    pairs = _error_kinds(result)
    ax = fig.add_subplot()
    ax.barh([p[0] for p in pairs], [p[1] for p in pairs], color="C3")
    ax.invert_yaxis()
    ax.set_xlabel("operations")
    ax.set_title("Errors by kind (stalled: seen past --op-timeout)")


def worker_cpu(fig, result: Result) -> None:
    """Each worker's user and system CPU while it ran, in % of one core over the run."""
    workers = result.doc.get("workers", [])
    run_s = max(1e-9, float(result.doc.get("measured_s") or 0) + float(result.doc.get("settings", {}).get("ramp_s") or 0))
    ax = fig.add_subplot()
    names = [f"{w.get('index')} (cpu {w.get('cpu')})" for w in workers]
    user = np.array([w.get("cpu_user_s") or 0.0 for w in workers]) / run_s * 100
    system = np.array([w.get("cpu_sys_s") or 0.0 for w in workers]) / run_s * 100
    ax.bar(names, user, label="user", color="C0")
    ax.bar(names, system, bottom=user, label="system", color="C1")
    ax.axhline(100, color="0.4", lw=0.8, ls=":")
    ax.set_xlabel("worker")
    ax.set_ylabel("% of one core")
    ax.set_title("Worker CPU over the run (librados threads included)")
    _legend(ax)


def host_iops(fig, hosts: list[dict]) -> None:
    """Cluster runs: each host's IOPS over the measured time (its summary's `all` row)."""
    ax = fig.add_subplot()
    names = [str(h.get("host")) for h in hosts]
    iops = [float(((h.get("summary") or [{}])[-1]).get("iops") or 0.0) for h in hosts]
    ax.barh(names, iops, color="C0")
    ax.invert_yaxis()
    ax.set_xlabel("IOPS (all ops)")
    ax.set_title("IOPS per host")


def run_charts(result: Result) -> list[Chart]:
    """Every chart of one run's report, in page order."""
    charts = [Chart("Throughput", 5.6, lambda f: throughput(f, result)),
              Chart("Latency over time", 3.4, lambda f: latency_timeline(f, result)),
              Chart("Latency spectrum", 3.4, lambda f: spectrum(f, [result])),
              Chart("Latency histogram", 3.0, lambda f: latency_histogram(f, result)),
              Chart("Errors and stalls", 5.0, lambda f: errors_and_stalls(f, result))]
    kinds = _error_kinds(result)
    if kinds:
        charts.append(Chart("Errors by kind", 0.9 + 0.3 * len(kinds), lambda f: errors_by_kind(f, result), left_in=1.8))
    charts.append(Chart("Worker CPU", 2.6, lambda f: worker_cpu(f, result)))
    return charts


def all_ops_iops(result: Result) -> tuple[np.ndarray, np.ndarray]:
    """(second, IOPS summed over the run's own ops) of a run."""
    series = [result.series(op) for op in result.own_ops]
    if not series or not any(len(s["second"]) for s in series):
        return np.array([]), np.array([])
    seconds = np.concatenate([s["second"] for s in series]).astype(int)
    total = np.bincount(seconds, weights=np.concatenate([s["iops"] for s in series]))
    return np.arange(len(total)), total


def compare_timeline(fig, results: list[Result]) -> None:
    """IOPS per second (all ops) of each run, overlaid."""
    ax = fig.add_subplot()
    for result in results:
        x, y = all_ops_iops(result)
        if len(x):
            ax.stairs(y, np.append(x, x[-1] + 1), baseline=None, lw=1, label=result.name)
    ax.set_xlabel("second")
    ax.set_ylabel("IOPS (all ops)")
    ax.set_ylim(bottom=0)
    ax.set_title("Throughput per second")
    _legend(ax)


def compare_changes(fig, changes: list[Change]) -> None:
    """Each figure's change from the baseline, with its 95 % confidence interval."""
    ax = fig.add_subplot()
    labels = [f"{c.candidate_name}: {c.op} {c.figure}" for c in changes]
    y = np.arange(len(changes))
    colors = {"better": "C2", "worse": "C3"}
    for i, c in enumerate(changes):
        # The point (from the whole samples) may lie just outside the bootstrap interval.
        xerr = [[max(0.0, c.change_pct - c.ci_low_pct)], [max(0.0, c.ci_high_pct - c.change_pct)]]
        ax.errorbar(c.change_pct, i, xerr=xerr,
                    fmt="o", color=colors.get(c.verdict, "0.45"), capsize=3)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("change from the baseline, % (95 % confidence interval); green better, red worse")
    ax.set_title("Comparison with the baseline")


def compare_charts(results: list[Result], changes: list[Change]) -> list[Chart]:
    """The charts of a comparison, in page order."""
    return [Chart("Changes", 1.0 + 0.28 * len(changes), lambda f: compare_changes(f, changes), left_in=3.0),
            Chart("Throughput", 3.0, lambda f: compare_timeline(f, results)),
            Chart("Latency spectrum", 3.4, lambda f: spectrum(f, results))]


def save_sheet(charts: list[Chart], path) -> None:
    """Every chart stacked into one image for `report plot`: PNG, or SVG/PDF by the file's suffix."""
    sheet = figure(sum(c.height_in for c in charts))
    subfigs = sheet.subfigures(len(charts), 1, height_ratios=[c.height_in for c in charts]) if len(charts) > 1 else [sheet]
    for sub, chart in zip(subfigs, charts):
        chart.draw_into(sub)
    suffix = Path(path).suffix.lower().lstrip(".") or "png"
    Path(path).write_bytes(render(sheet, suffix, dpi=110))
