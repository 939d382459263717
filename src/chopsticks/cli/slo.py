"""`--slo`: run the SLO search (chopsticks/slo.py) with the command's Plan, one rate step after
another on the engine, printing the capacity table as it goes."""
from __future__ import annotations

import dataclasses
import math

import typer

from chopsticks.cli.common import (EXIT_OK, EXIT_OP_ERRORS, RunOptions, duration_option, exit_status_of_signal,
                                   write_outputs)
from chopsticks.engine import pool
from chopsticks.engine.contract import error_namer
from chopsticks.engine.progress import progress_display
from chopsticks.engine.shm import Phase
from chopsticks.errors import ChopsticksError
from chopsticks.metrics import export
from chopsticks.metrics.histogram import percentiles_ns
from chopsticks.metrics.summary import KEPT_UP, summarize
from chopsticks.plan import Plan
from chopsticks import slo

# Columns of the capacity table and of --csv (one row per step, in the order run):
#   step; asked_ops_s (empty for the closed-loop probe); achieved_ops_s; lat_p50_us, lat_p99_us,
#   lat_p99_9_us: response time (intended start → completion) of the target's own ops, plus a
#   lat_pN_us column for each objective's percentile; slo_met.
BASE_PERCENTILES = (50.0, 99.0, 99.9)


def _col(p: float) -> str:
    return f"lat_p{format(p, 'g').replace('.', '_')}_us"


class _Stopped(Exception):
    def __init__(self, signum: int):
        self.signum = signum


def execute_slo(plan: Plan, opts: RunOptions) -> None:
    """Search, print the curve and the answer, write --csv (the curve) and --json (every step)."""
    try:
        objectives = [slo.parse_objective(text) for text in opts.slo]
    except ChopsticksError as e:
        raise typer.BadParameter(str(e), param_hint="--slo") from None
    step_s = duration_option(opts.step_duration, "--step-duration")
    pcts = sorted(set(BASE_PERCENTILES) | {o.percentile for o in objectives})
    columns = ("step", "asked_ops_s", "achieved_ops_s", *(_col(p) for p in pcts), "slo_met")
    name_of = error_namer(plan.target)
    documents, curve = [], []
    print(f"SLO search: {', '.join(o.text for o in objectives)}; steps of {step_s:g}s, "
          f"{plan.procs} worker(s), at most {plan.max_inflight} ops in flight each")
    print("  ".join(f"{c:>14}" for c in columns))

    def run_step(rate: float | None):
        step_plan = dataclasses.replace(plan, rate=rate, duration_s=step_s, io_total=None)
        progress = None if opts.quiet else progress_display(opts.progress)
        out = pool.run(step_plan, [progress])
        rows = summarize(out)
        documents.append(export.result_document(out, rows, name_of))
        if out.stop_signal:
            raise _Stopped(out.stop_signal)
        own = [o for o, n in enumerate(out.op_names) if n not in step_plan.derived_ops]
        merged = out.hist[:, Phase.MEASURED][:, own].sum(axis=(0, 1))
        values = dict(zip(pcts, (v / 1e3 for v in percentiles_ns(merged, pcts))))
        achieved = rows[-1]["ops"] / max(out.measured_s, 1e-9)
        reached = rate is None or achieved >= KEPT_UP * rate
        return achieved, values, reached and not out.partial, None

    def on_step(step: slo.Step) -> None:
        row = {"step": len(curve), "asked_ops_s": step.asked, "achieved_ops_s": step.achieved,
               **{_col(p): step.percentiles_us[p] for p in pcts}, "slo_met": step.met}
        curve.append(row)
        print("  ".join(f"{_cell(row[c]):>14}" for c in columns), flush=True)

    status, answer = EXIT_OK, None
    try:
        answer, steps = slo.search(objectives, run_step, on_step)
    except _Stopped as e:
        status = exit_status_of_signal(e.signum)
        print(f"interrupted: the search stopped after {len(curve)} step(s)")
    if status == EXIT_OK:
        if answer is None:
            print(f"no rate met {', '.join(o.text for o in objectives)} (not even {slo.FLOOR:.0%} of the ceiling)")
            status = EXIT_OP_ERRORS
        elif answer >= steps[0].achieved:
            print(f"answer: the ceiling itself, {answer:,.0f} ops/s, meets every objective")
        else:
            print(f"answer: {answer:,.0f} ops/s meets {', '.join(o.text for o in objectives)} "
                  f"(within {slo.SEARCH_PRECISION:.0%})")
    document = {"slo": [o.text for o in objectives], "answer_ops_s": answer, "curve": curve, "steps": documents}
    _, failed = write_outputs([(opts.csv, lambda p: export.write_rows_csv(p, columns, curve)),
                               (opts.json, lambda p: export.write_json(p, document))])
    raise typer.Exit(status if status != EXIT_OK or not failed else 1)


def _cell(value) -> str:
    if value is None:
        return "closed loop"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.1f}"
    return str(value)
