"""chopsticks/__main__.py: the console script's process starts no BLAS thread pool (numpy's
OpenBLAS would start one thread per CPU, each spinning ~0.1 s of CPU), and keeps a user's own
setting."""
import os
import subprocess
import sys

PROBE = """
import os, sys, types
import chopsticks.__main__ as entry

def fake_cli():
    import numpy
    print(len(os.listdir('/proc/self/task')), os.environ['OPENBLAS_NUM_THREADS'])

sys.modules['chopsticks.cli'] = types.SimpleNamespace(main=fake_cli)   # the CLI, as it imports numpy
entry.main()
"""


def run_probe(**env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS", "OMP_"))}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True, check=True)
    threads, setting = out.stdout.split()
    return int(threads), setting


def test_the_cli_process_has_one_thread_after_importing_numpy():
    assert run_probe() == (1, "1")


def test_a_users_own_blas_setting_is_kept():
    threads, setting = run_probe(OPENBLAS_NUM_THREADS="2")
    assert setting == "2" and threads == min(2, os.cpu_count())
