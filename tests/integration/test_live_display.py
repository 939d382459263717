"""What a person sees while a run goes: under a pseudo-terminal of 80 columns the live table is
redrawn in place and the final summary printed whole; piped, plain bounded lines a second."""
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest

from chopsticks.metrics.export import TABLE_COLUMNS

CHOPSTICKS = [sys.executable, "-m", "chopsticks"]
COLUMNS = 80
CSI = re.compile(r"\x1b\[[0-9;?]*([A-Za-z])")
CURSOR_MOVES = "ABCDHJK"            # cursor up/down/left/right, position, erase: a line ends there
REDRAW = re.compile(r"(?:\x1b\[2K\x1b\[1A)+\x1b\[2K")
PATH_LINES = ("wrote ", "results in ")     # name output files: as wide as their paths


def run_in_terminal(args, columns=COLUMNS, timeout=120) -> tuple[int, str]:
    """Run `chopsticks ARGS` with stdin/stdout/stderr on a pseudo-terminal `columns` wide; return
    its exit status and everything it wrote, escape sequences included."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([*CHOPSTICKS, *args], stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    chunks = []
    try:
        while select.select([master], [], [], timeout)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:         # EIO: the terminal's last writer closed it
                break
            if not chunk:
                break
            chunks.append(chunk)
        return proc.wait(timeout=timeout), b"".join(chunks).decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def screen_lines(raw: str) -> list[str]:
    """The lines as a terminal draws them: split where the cursor moves, styles dropped."""
    text = CSI.sub(lambda m: "\n" if m.group(1) in CURSOR_MOVES else "", raw)
    return [line for line in re.split(r"[\r\n]+", text) if line]


def final_part(raw: str) -> list[str]:
    """What stays on screen once the live table erased itself: everything after its last erase."""
    return screen_lines(raw[raw.rindex("\x1b[2K") + len("\x1b[2K"):])


def check_terminal_run(raw: str, ops: list[str]) -> None:
    lines = screen_lines(raw)
    drawn = [line for line in lines if not line.startswith(PATH_LINES)]
    assert max(len(line) for line in drawn) <= COLUMNS, max(drawn, key=len)
    frames = [line for line in lines if re.match(r"\d+s / \d+s ", line)]
    assert len(frames) >= 2
    # every frame after the first is drawn over the previous one (cursor up + erase), not below it
    assert len(REDRAW.findall(raw)) >= len(frames)
    final = final_part(raw)
    assert not any(re.match(r"\d+s / \d+s ", line) for line in final)
    titles = " ".join(line for line in final if line.startswith("op "))
    for _, title, _ in TABLE_COLUMNS:
        assert title in titles
    assert {line.split()[0] for line in final if line.split()[0] in ops + ["all"]} == set(ops + ["all"])
    assert any(line.startswith("measured ") for line in final)


def test_null_run_in_an_80_column_terminal():
    status, raw = run_in_terminal(["bench", "null", "--procs", "1", "--duration", "3s"])
    assert status == 0, raw
    check_terminal_run(raw, ["write"])
    live = screen_lines(raw[:raw.rindex("\x1b[2K")])
    assert any(line.split()[:2] == ["op", "IOPS"] for line in live)
    assert any(re.match(r"write +[\d.,]+[kM]? +[\d.,]+ +[\d.]+(ns|µs)", line) for line in live), live


def plain_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.match(r"\[ *\d+s\]", line)]


def test_null_run_piped_prints_bounded_plain_lines():
    proc = subprocess.run([*CHOPSTICKS, "bench", "null", "--procs", "1", "--duration", "3s"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr + proc.stdout
    lines = plain_lines(proc.stderr)
    assert 2 <= len(lines) <= 4, proc.stderr
    assert all(len(line) <= 80 for line in proc.stderr.splitlines())
    assert all(re.match(r"\[ *\d+s\] [\d.,]+[kM]? IOPS [\d.,]+ MiB/s p99 [\d.]+(ns|µs|ms) \(write\) cpu \d+%$", line) for line in lines), lines


def test_quiet_and_progress_none_print_no_progress():
    for flag in (["--quiet"], ["--progress", "none"]):
        proc = subprocess.run([*CHOPSTICKS, "bench", "null", "--procs", "1", "--duration", "1s", *flag],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0 and not plain_lines(proc.stderr) and "write" in proc.stdout


def test_lab_mixed_s3_run_in_an_80_column_terminal(lab):
    args = ["bench", "s3", "--driver", "native", "--op", "mixed", "--procs", "1", "--concurrency", "4",
            "--duration", "3s", "--objects", "10"]
    status, raw = run_in_terminal(args)
    assert status == 0, raw
    check_terminal_run(raw, ["put", "get", "delete", "head", "get.ttfb"])
    live = screen_lines(raw[:raw.rindex("\x1b[2K")])
    ttfb = [line.split() for line in live if line.startswith("get.ttfb ")]
    assert ttfb and all(cells[1] == "-" and cells[2] == "-" for cells in ttfb)     # latency only
    proc = subprocess.run([*CHOPSTICKS, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = plain_lines(proc.stderr)
    assert 2 <= len(lines) <= 4 and all(len(line) <= 80 for line in proc.stderr.splitlines()), proc.stderr
    assert all(" IOPS " in line and " p99 " in line for line in lines)


@pytest.mark.parametrize("mode", ["plain", "live"])
def test_progress_mode_overrides_the_terminal_check(mode):
    status, raw = run_in_terminal(["bench", "null", "--procs", "1", "--duration", "2s", "--progress", mode])
    assert status == 0
    assert bool(REDRAW.search(raw)) == (mode == "live")
    assert bool(plain_lines(CSI.sub("", raw))) == (mode == "plain")


def test_a_killed_worker_is_an_event_line():
    from helpers.engine_cli import kill_one_worker_once_running, start_bench

    proc = start_bench("null", "--procs", "2", "--duration", "3s")
    pid = kill_one_worker_once_running(proc, 2)
    _, stderr = proc.communicate(timeout=120)
    events = [line for line in stderr.splitlines() if " event: " in line]
    assert any(re.match(rf"\[ *\d+s\] event: worker \d \(pid {pid}\): died$", line) for line in events), stderr
    assert all(len(line) <= 80 for line in stderr.splitlines())
