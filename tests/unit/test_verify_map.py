"""backends/verify_map.py: the verify map's file beside a result, its round trip from the workers'
parts, and the one-line refusals of --verify-against."""
from pathlib import Path

import numpy as np
import pytest

from chopsticks.backends import verify_map
from chopsticks.errors import ChopsticksError

SETTINGS = {"backend": "rbd", "bs": 4096, "spans": [[0, 8192], [8192, 8192]], "seed": 1, "workers": 2}
OPTIONS = {"backend": "the backend", "workers": "--procs", "bs": "--bs", "spans": "the range", "seed": "--seed"}


def test_the_map_goes_beside_the_result():
    assert verify_map.beside(Path("/x/r.json")) == Path("/x/r.verify.npz")
    assert verify_map.beside(Path("/x/run/result.json")) == Path("/x/run/result.verify.npz")
    assert verify_map.beside(Path("out")) == Path("out.verify.npz")


def test_workers_parts_round_trip_through_the_saved_map(tmp_path):
    parts = str(tmp_path / "parts")
    verify_map.make_parts_dir(parts)
    maps = [np.array([1, 0], dtype=np.uint64), np.array([(1 << 44) | 7, (1 << 44) | 9], dtype=np.uint64)]
    for i, last_seq in enumerate(maps):
        verify_map.save_part(parts, i, last_seq.tobytes(), 9 if i else 1)
    [(path, write)] = verify_map.outputs(parts, SETTINGS, 2, [tmp_path / "r.json"])
    assert path == tmp_path / "r.verify.npz" and not Path(parts).exists()
    write(path)
    earlier = verify_map.VerifyMap(str(tmp_path / "r.json"))
    assert earlier.settings == SETTINGS
    last_seq, writes = earlier.worker(1)
    assert last_seq.dtype == np.uint64 and last_seq.tolist() == maps[1].tolist() and writes == 9
    assert earlier.worker(0)[0].tolist() == [1, 0]
    earlier.check(dict(SETTINGS), OPTIONS)


def test_a_workers_extra_arrays_round_trip_beside_its_map(tmp_path):
    parts = str(tmp_path / "parts")
    verify_map.make_parts_dir(parts)
    verify_map.save_part(parts, 0, np.array([0, 5], dtype=np.uint64).tobytes(), 5,
                         {"threads": np.array([-1, 1], dtype=np.int32), "base": np.array("pre/1-w0")})
    verify_map.save_part(parts, 1, np.zeros(1, dtype=np.uint64).tobytes(), 0)      # none: {}
    [(path, write)] = verify_map.outputs(parts, SETTINGS, 2, [tmp_path / "r.json"])
    write(path)
    earlier = verify_map.VerifyMap(str(tmp_path / "r.json"))
    extra = earlier.extra(0)
    assert sorted(extra) == ["base", "threads"] and str(extra["base"]) == "pre/1-w0"
    assert extra["threads"].dtype == np.int32 and extra["threads"].tolist() == [-1, 1]
    assert earlier.worker(0)[0].tolist() == [0, 5] and earlier.extra(1) == {}


def test_no_map_is_kept_when_a_worker_left_none(tmp_path, capsys):
    parts = str(tmp_path / "parts")
    verify_map.make_parts_dir(parts)
    verify_map.save_part(parts, 0, np.zeros(2, dtype=np.uint64).tobytes(), 0)
    assert verify_map.outputs(parts, SETTINGS, 2, [tmp_path / "r.json"]) == []
    assert "no verify map kept: a worker left none" in capsys.readouterr().err


def test_a_differing_setting_is_named_by_its_option(tmp_path):
    verify_map.save(tmp_path / "r.verify.npz", SETTINGS, [(np.zeros(2, dtype=np.uint64), 0)] * 2)
    earlier = verify_map.VerifyMap(str(tmp_path / "r.json"))
    with pytest.raises(ChopsticksError, match=r"--bs differs from the earlier run's \(4096 there, 8192 here\)"):
        earlier.check({**SETTINGS, "bs": 8192}, OPTIONS)
    with pytest.raises(ChopsticksError, match="the range differs"):
        earlier.check({**SETTINGS, "spans": [[0, 4096], [4096, 4096]]}, OPTIONS)


def test_a_missing_or_foreign_map_is_a_one_line_error(tmp_path):
    with pytest.raises(ChopsticksError, match="no verify map"):
        verify_map.VerifyMap(str(tmp_path / "none.json"))
    (tmp_path / "bad.verify.npz").write_bytes(b"not a zip")
    with pytest.raises(ChopsticksError, match="is not a verify map"):
        verify_map.VerifyMap(str(tmp_path / "bad.json"))


def test_a_map_of_blocks_stamped_in_another_format_is_refused(tmp_path):
    """A map saved by a chopsticks whose stamps differ (no stamp format, or another magic) would
    read every block it names as lost: refused in one line instead."""
    np.savez_compressed(tmp_path / "old.verify.npz", settings=np.array('{"backend": "rbd"}'),
                        w0_last_seq=np.zeros(2, dtype=np.uint64), w0_writes=np.uint64(0))
    with pytest.raises(ChopsticksError, match="stamped by another chopsticks version"):
        verify_map.VerifyMap(str(tmp_path / "old.json"))
    verify_map.save(tmp_path / "new.verify.npz", SETTINGS, [(np.zeros(2, dtype=np.uint64), 0)] * 2)
    assert verify_map.VerifyMap(str(tmp_path / "new.json")).settings["seed"] == 1
