"""Seeds come from one place (plan.derive_seed): every worker of a run, on one host or many, and
every part of a worker (a thread, a user) gets its own, and the same run seed gives the same ones."""
from chopsticks.backends.block import BlockIo
from chopsticks.backends.null import NullTarget
from chopsticks.plan import Plan


def plan(**kw) -> Plan:
    return Plan(target=NullTarget(io=BlockIo()), procs=2, cpus=(0, 1), max_inflight=1, duration_s=1.0, **kw)


def test_each_worker_and_part_has_its_own_seed_and_the_same_on_every_host():
    one_host = plan(seed=7)
    seeds = {one_host.worker_seed(w, *parts) for w in range(4) for parts in ((), (0,), (1,), (2,))}
    assert len(seeds) == 16
    # host 2 of a cluster run (workers 2 and 3): its local worker 0 seeds as global worker 2 does
    host2 = plan(seed=7, first_worker=2, all_workers=4)
    assert host2.worker_seed(host2.worker_index(0)) == one_host.worker_seed(2)
    assert plan(seed=8).worker_seed(0) != one_host.worker_seed(0)
    assert all(0 <= s < 2**64 for s in seeds)
