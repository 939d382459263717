"""`chopsticks report`: read result files back: the table, the HTML report, a PNG of the charts,
and the statistical comparison of runs."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from chopsticks.errors import ChopsticksError
from chopsticks.report.compare import DEFAULT_THRESHOLD_PCT
from chopsticks.report.result import Result, load_result

app = typer.Typer(help="Read result files (result.json in a run directory, or --json).", no_args_is_help=True)

ResultFile = Annotated[Path, typer.Argument(help="A result file: result.json of a run directory, or a --json file.")]
Threshold = Annotated[float, typer.Option("--threshold", min=0, help="Changes smaller than this % are never called better or worse.")]
Files = Annotated[List[str], typer.Argument(
    help="A.json B.json [C.json...] (A is the baseline), or --baseline A1.json A2.json --candidate B1.json B2.json.",
    show_default=False, metavar="FILES")]
SIDE_MARKERS = ("--baseline", "--candidate")
SIDES = {"ignore_unknown_options": True}        # --baseline/--candidate reach FILES as words


@app.command()
def show(path: ResultFile) -> None:
    """Print the summary table of a saved result."""
    from chopsticks.metrics.export import hosts_text, table

    result = load_result(path)
    doc = result.doc
    print(result.command)
    print(table(result.rows))
    print(f"measured {float(doc.get('measured_s') or 0):.2f}s, started {doc.get('started_at', '?')}")
    if doc.get("hosts"):
        print(hosts_text(doc["hosts"], doc.get("first_op_spread_ms")))
    if doc.get("partial"):
        print("PARTIAL RESULT: " + "; ".join(doc.get("notes", [])))


def _sides(args: list[str]) -> tuple[list[Result], list[list[Result]]]:
    """FILE... (the first is the baseline, each other a candidate) or
    --baseline FILE... --candidate FILE... (repeated runs per side)."""
    if not any(a in SIDE_MARKERS for a in args):
        if len(args) < 2:
            raise typer.BadParameter("give at least two result files (the first is the baseline)", param_hint="FILES")
        results = [load_result(Path(a)) for a in args]
        return results[:1], [[r] for r in results[1:]]
    sides: dict[str, list[Result]] = {m: [] for m in SIDE_MARKERS}
    current = None
    for a in args:
        if a in SIDE_MARKERS:
            current = a
        elif a.startswith("-") or current is None:
            raise typer.BadParameter(f"expected --baseline FILE... --candidate FILE..., got '{a}'", param_hint="FILES")
        else:
            sides[current].append(load_result(Path(a)))
    if not sides["--baseline"] or not sides["--candidate"]:
        raise typer.BadParameter("--baseline and --candidate each need at least one file", param_hint="FILES")
    return sides["--baseline"], [sides["--candidate"]]


@app.command(context_settings=SIDES)
def compare(
    files: Files,
    csv: Annotated[Optional[Path], typer.Option("--csv", help="Also write the changes here.")] = None,
    threshold: Threshold = DEFAULT_THRESHOLD_PCT,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap resampling.")] = 1,
) -> None:
    """Per op: the change of IOPS, MiB/s, p50, p99, p99.9 from the baseline, with 95 % confidence intervals and a verdict."""
    from chopsticks.cli.common import check_outputs, write_outputs
    from chopsticks.report import compare as cmp

    check_outputs(csv)
    baseline, candidates = _sides(files)
    changes = cmp.compare(baseline, candidates, threshold, seed)
    if not changes:
        raise ChopsticksError("nothing to compare: the runs share no op with at least 2 measured seconds")
    print(cmp.table(changes))
    _, failed = write_outputs([(csv, lambda p: cmp.write_csv(p, changes))])
    if failed:
        raise typer.Exit(1)


@app.command(context_settings=SIDES)
def html(
    files: Annotated[List[str], typer.Argument(help="One result file, or several to compare (as for `report compare`).",
                                               show_default=False, metavar="FILES")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The HTML file (default: report.html next to the result, compare.html next to the first of several).")] = None,
    threshold: Threshold = DEFAULT_THRESHOLD_PCT,
) -> None:
    """Write a self-contained HTML report (no network at view time): one run, or a comparison of several."""
    from chopsticks.cli.common import check_outputs
    from chopsticks.report import compare as cmp
    from chopsticks.report import html as page

    first = Path(next((f for f in files if f not in SIDE_MARKERS), "."))
    output = output or first.with_name("report.html" if len(files) == 1 else "compare.html")
    check_outputs(output)
    if len(files) == 1:
        text = page.run_page(load_result(Path(files[0])))
    else:
        baseline, candidates = _sides(files)
        results = baseline + [r for group in candidates for r in group]
        text = page.compare_page(results, cmp.compare(baseline, candidates, threshold), threshold)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")


@app.command()
def plot(
    path: ResultFile,
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file: .png, .svg or .pdf.")],
) -> None:
    """Write the report's charts as one image (PNG, or SVG/PDF by the file's suffix)."""
    from chopsticks.cli.common import check_outputs
    from chopsticks.report import charts

    if output.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise typer.BadParameter(f"must end in .png, .svg or .pdf, got '{output.name}'", param_hint="--output")
    check_outputs(output)
    charts.save_sheet(charts.run_charts(load_result(path)), output)
    print(f"wrote {output}")
