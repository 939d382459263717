"""Looking at results end to end: the run directory kept by default, the HTML report of real runs
opened in headless Chromium (no console error, no network request, every chart drawn, a
screenshot), `report plot`, and `report compare` on real lab runs."""
import csv
import os
import subprocess
from pathlib import Path

import pytest

from helpers.browser import visit
from helpers.engine_cli import CHOPSTICKS, chopsticks, load_json

REPO = Path(__file__).resolve().parents[2]
RUN_FILES = {"result.json", "summary.csv", "timeseries.csv", "report.html"}


def without_run_dir_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "CHOPSTICKS_RUN_DIR"}


def run_here(cwd: Path, *args, timeout=180) -> subprocess.CompletedProcess:
    """`chopsticks ARGS` started in `cwd`, as a user would, without the suite's CHOPSTICKS_RUN_DIR."""
    return subprocess.run([*CHOPSTICKS, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=without_run_dir_env(), stdin=subprocess.DEVNULL)


def check_in_browser(report: Path, screenshot: Path, min_charts: int) -> None:
    page = visit(report)
    screenshot.write_bytes(page.screenshot)
    assert page.errors == [] and page.requests == []
    assert len(page.charts) >= min_charts
    for chart in page.charts:
        assert chart["width"] > 300 and chart["height"] > 100 and chart["drawn"] >= 5, chart
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n" and len(page.screenshot) > 20_000


def test_the_browser_check_sees_console_errors_requests_and_empty_charts(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>'
                   '<svg width="400" height="200"></svg></body></html>')
    page = visit(bad)
    assert "boom" in page.errors and page.requests == ["http://127.0.0.1:9/x.png"]
    assert page.charts == [{"width": 400, "height": 200, "paths": 0, "drawn": 0}]


def test_no_save_leaves_nothing_and_results_dir_chooses_where(tmp_path):
    r = run_here(tmp_path, "bench", "null", "--procs", 1, "--duration", "1s", "--quiet", "--no-save")
    assert r.returncode == 0, r.stderr
    assert list(tmp_path.iterdir()) == [] and "results in" not in r.stdout
    r = run_here(tmp_path, "bench", "null", "--procs", 1, "--duration", "1s", "--quiet", "--results-dir", "out")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (tmp_path / "out").iterdir()
    assert run_dir.name.endswith("-bench-null") and {p.name for p in run_dir.iterdir()} == RUN_FILES
    assert f"results in out/{run_dir.name}/" in r.stdout
    png = tmp_path / "charts.png"
    r = chopsticks("report", "plot", run_dir / "result.json", "-o", png)
    assert r.returncode == 0 and png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 50_000


def test_chopsticks_run_dir_names_the_run_directory_and_an_unwritable_one_fails_first(tmp_path):
    env = {**without_run_dir_env(), "CHOPSTICKS_RUN_DIR": str(tmp_path / "here")}
    r = subprocess.run([*CHOPSTICKS, "bench", "null", "--procs", "1", "--duration", "1s", "--quiet"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in (tmp_path / "here").iterdir()} == RUN_FILES
    (tmp_path / "file").write_text("")
    r = run_here(tmp_path, "bench", "null", "--duration", "1s", "--quiet", "--results-dir", tmp_path / "file")
    assert r.returncode == 1 and r.stderr.startswith(f"chopsticks: error: cannot keep results in {tmp_path / 'file'}")
    assert "Traceback" not in r.stderr and "worker" not in r.stdout


@pytest.fixture(scope="module")
def rbd_runs(lab, tmp_path_factory):
    """Three short lab runs: randwrite at --iodepth 16 twice, and at --iodepth 1. The first is a
    plain `bench rbd` with no output flag (its results are only in the run directory)."""
    cwd = tmp_path_factory.mktemp("rbd-runs")
    common = ("--procs", 1, "--bs", "4k", "--rw", "randwrite", "--duration", "6s", "--ramp", 1, "--quiet")
    # A warm-up first, so that the runs compared do not differ by which one met a cold image.
    assert run_here(cwd, "bench", "rbd", *common[:6], "--duration", "3s", "--no-save", "--quiet").returncode == 0
    first = run_here(cwd, "bench", "rbd", *common, "--iodepth", 16)
    assert first.returncode == 0, first.stderr
    (run_dir,) = (cwd / "chopsticks-results").iterdir()
    runs = {"qd16-a": run_dir / "result.json"}
    for name, depth in (("qd16-b", 16), ("qd1", 1)):
        r = run_here(cwd, "bench", "rbd", *common, "--iodepth", depth, "--no-save", "--json", f"{name}.json")
        assert r.returncode == 0, r.stderr
        runs[name] = cwd / f"{name}.json"
    return cwd, run_dir, runs


def test_a_plain_bench_rbd_keeps_its_results(rbd_runs):
    cwd, run_dir, _ = rbd_runs
    assert run_dir.name.endswith("-bench-rbd") and {p.name for p in run_dir.iterdir()} == RUN_FILES
    doc = load_json(run_dir / "result.json")
    assert doc["summary"][-1]["ops"] > 0 and doc["settings"]["iodepth"] == 16
    rows = list(csv.DictReader(open(run_dir / "timeseries.csv")))
    assert {r["phase"] for r in rows} >= {"ramp", "measured"} and "lat_p99_9_us" in rows[0]


def test_the_report_of_a_lab_bench_rbd_run_in_chromium(rbd_runs, tmp_path):
    _, run_dir, _ = rbd_runs
    check_in_browser(run_dir / "report.html", tmp_path / "bench-rbd-report.png", min_charts=6)


def compare(*args) -> dict:
    r = chopsticks("report", "compare", *args)
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()
    return {(line.split()[1], line.split()[2]): line for line in rows[1:]}


def test_compare_same_settings_is_no_significant_change_and_iodepth_is(rbd_runs, tmp_path):
    _, _, runs = rbd_runs
    # Two 6 s runs on this 2-core lab (the cluster on the same cores) differ by up to ~30 % in IOPS
    # and p99 from one run to the next (measured: -15.6 % and -29 % p99, +24 % IOPS), a spread the
    # seconds of one run cannot show: the same-settings check asks for a change beyond that.
    same = compare(runs["qd16-a"], runs["qd16-b"], "--threshold", 35)
    assert "no significant change" in same[("write", "IOPS")]
    assert "no significant change" in same[("write", "p99")]
    deeper = compare(runs["qd1"], runs["qd16-a"], "--csv", tmp_path / "c.csv")
    rows = {(r["op"], r["figure"]): r for r in csv.DictReader(open(tmp_path / "c.csv"))}
    iops = rows[("write", "IOPS")]
    assert iops["verdict"] == "better" and float(iops["ci_low_pct"]) > 0 and float(iops["change_pct"]) > 50
    assert "better" in deeper[("write", "IOPS")]
    page = tmp_path / "compare.html"
    assert chopsticks("report", "html", runs["qd1"], runs["qd16-a"], runs["qd16-b"], "-o", page).returncode == 0
    check_in_browser(page, tmp_path / "compare-report.png", min_charts=3)


def test_the_report_of_a_scenario_run_in_chromium(lab, tmp_path):
    config = tmp_path / "s3.yaml"
    config.write_text(f"endpoint: {lab.s3_endpoint}\naccess_key: {lab.access_key}\nsecret_key: {lab.secret_key}\n"
                      f"bucket: {lab.bucket}\ndriver: boto3\n")
    fast = tmp_path / "fast.yaml"
    fast.write_text("s3_small_objects: {object_size_kb: 4, max_keys_in_memory: 20, min_wait_s: 0, max_wait_s: 0}\n")
    r = run_here(tmp_path, "run", "-f", REPO / "scenarios" / "s3_small_objects.py", "--workload-config", config,
                 "--scenario-config", fast, "--headless", "--users", 4, "--spawn-rate", 4, "--duration", "4s",
                 "--procs", 2, "--quiet")
    assert r.returncode == 0, r.stderr
    (run_dir,) = (tmp_path / "chopsticks-results").iterdir()
    assert run_dir.name.endswith("-run")
    check_in_browser(run_dir / "report.html", tmp_path / "scenario-report.png", min_charts=6)
