# The engine's contract with every compiled loop (null, rbd, s3, rados), as fio's core is with its
# engines: the loop only queues and reaps operations; when an operation may start, when the run
# stops submitting, its intended start (rate mode), stall scans and what is recorded for each
# completion live here. One RunSpec filled once from the engine's dict, one RunResult handed back.
#
# Rate mode (--rate): each worker follows its own schedule of intended starts (uniform gaps, or
# exponential ones from the run's seed for Poisson arrivals). An operation's clock starts at its
# intended start, even while it waits for a free slot (the in-flight cap): its latency is the
# response time, free of coordinated omission. Rate mode adds slots after the target's own:
# `<op>.service` (actual submit → completion, what fio and warp report) and `schedule.lag`
# (intended → actual submit).
from libc.stdint cimport uint64_t, int64_t
from libc.math cimport log
cimport numpy as cnp

from chopsticks._fast.histogram cimport (Recorder, init_recorder, record_ok, record_error, record_stall,
                                        record_gauges, start_drain, now_ns)
from chopsticks._fast.payload cimport splitmix64
from chopsticks._fast.events cimport prctl, PR_SET_TIMERSLACK

cdef enum:
    ARRIVALS_UNIFORM = 0
    ARRIVALS_POISSON = 1
    SCAN_EVERY_NS = 100000000    # stall scans and in-flight gauges: every 100 ms
    IDLE_WAIT_NS = 100000000     # closed loop: the longest a loop blocks waiting for completions
    LATE_NS = 1000000            # an op submitted more than 1 ms after its intended start is late
    RATE_TIMER_SLACK_NS = 1      # rate mode: a timed wait ends on time, not up to 50 µs after (Linux's default slack)


cdef struct RunSpec:             # the run as every loop sees it
    int n_ops                    # op slots recorded: the target's, then rate mode's
    int n_target_ops             # the target's own slots
    uint64_t start_ns
    uint64_t deadline_ns         # no submission from here on (2**63-1: none)
    uint64_t ops_limit           # submissions allowed (the --io-total budget)
    uint64_t op_timeout_ns
    int max_inflight             # --iodepth / --concurrency: operations in flight at most
    uint64_t seed
    double rate                  # this worker's operations per second; 0 = closed loop
    int arrivals
    double first_due_ns          # rate mode: intended start of the first operation


cdef struct RunResult:
    uint64_t submitted
    uint64_t completed
    uint64_t late                # rate mode: submitted more than LATE_NS after their intended start
    int inflight                 # still in flight when the loop returned
    int fatal_errno              # the loop had to stop early (0: it did not)


cdef struct LoopControl:
    RunSpec spec
    RunResult result
    Recorder rec
    int64_t *stop                # the engine's stop flag (shared memory)
    bint submitting              # cleared for good at the deadline, the stop or the budget's end
    uint64_t budget
    double next_due_ns           # rate mode: intended start of the next operation
    double interval_ns           # rate mode: mean gap between intended starts
    uint64_t rng
    uint64_t last_scan_ns


cdef inline int init_control(LoopControl *c, cnp.uint64_t[::1] hist, cnp.int64_t[::1] ts,
                             cnp.int64_t[::1] errors, cnp.int64_t[::1] stop, dict spec) except -1:
    """Fill c once from the engine's spec dict (engine/pool.py builds it from the Plan)."""
    init_recorder(&c.rec, hist, ts, errors, spec)
    c.spec.n_ops = spec["n_ops"]
    c.spec.n_target_ops = spec["n_target_ops"]
    c.spec.start_ns = spec["start_ns"]
    c.spec.deadline_ns = spec["deadline_ns"]
    c.spec.ops_limit = spec["ops_limit"]
    c.spec.op_timeout_ns = spec["op_timeout_ns"]
    c.spec.max_inflight = spec["max_inflight"]
    c.spec.seed = spec["seed"]
    c.spec.rate = spec["rate"]
    c.spec.arrivals = spec["arrivals"]
    c.spec.first_due_ns = spec["first_due_ns"]
    c.result.submitted = c.result.completed = c.result.late = 0
    c.result.inflight = c.result.fatal_errno = 0
    c.stop = &stop[0]
    c.submitting = True
    c.budget = c.spec.ops_limit
    start_schedule(c, c.spec.rate, c.spec.arrivals, c.spec.seed, c.spec.first_due_ns)
    if c.spec.rate > 0:
        precise_timed_waits()
    c.last_scan_ns = now_ns()
    return 0


cdef inline void precise_timed_waits() noexcept nogil:
    """Rate mode, in each thread that waits for intended starts: its timed waits end on time. With
    Linux's default timer slack (50 µs) every op started ~55 µs late, and that lag is in its
    response time (bench null --rate 3000: p50 59 µs, 17 µs without the slack)."""
    prctl(PR_SET_TIMERSLACK, <unsigned long>RATE_TIMER_SLACK_NS, 0, 0, 0)


cdef inline void start_schedule(LoopControl *c, double rate, int arrivals, uint64_t seed, double first_due_ns) noexcept nogil:
    """Rate mode's schedule: `rate` ops/s (0: closed loop) from first_due_ns on."""
    c.spec.arrivals = arrivals
    c.rng = seed ^ 0x5deece66dULL        # its own stream, apart from the offsets' and payloads'
    c.interval_ns = 1e9 / rate if rate > 0 else 0.0
    c.next_due_ns = first_due_ns


cdef inline bint stop_due(LoopControl *c, uint64_t now) noexcept nogil:
    """Whether submitting has ended (the stop flag, the deadline, the budget). After a stop or the
    deadline, completions are the drain; the budget's last ops are still measured ops."""
    if c.submitting and (c.stop[0] != 0 or now >= c.spec.deadline_ns):
        c.submitting = False
        start_drain(&c.rec, now)
    elif c.submitting and c.budget == 0:
        c.submitting = False
    return not c.submitting


cdef inline bint may_submit(LoopControl *c, uint64_t now) noexcept nogil:
    """Whether an operation may start now: submitting, a free slot, and (rate mode) one is due."""
    if stop_due(c, now):
        return False
    if c.result.inflight >= c.spec.max_inflight:
        return False
    return c.interval_ns == 0.0 or c.next_due_ns <= <double>now


cdef inline uint64_t begin_op(LoopControl *c, uint64_t now) noexcept nogil:
    """Account for an operation about to be submitted; returns its intended start (now in a
    closed loop; its place in the schedule in rate mode, perhaps in the past)."""
    cdef uint64_t intended = now
    cdef double u
    if c.interval_ns != 0.0:
        intended = <uint64_t>c.next_due_ns
        if c.spec.arrivals == ARRIVALS_POISSON:
            u = ((splitmix64(&c.rng) >> 11) + 1) * (1.0 / 9007199254740993.0)     # (0, 1]
            c.next_due_ns += -log(u) * c.interval_ns
        else:
            c.next_due_ns += c.interval_ns
    c.budget -= 1
    c.result.submitted += 1
    c.result.inflight += 1
    return intended


cdef inline void unsubmit(LoopControl *c) noexcept nogil:
    """The operation begun last could not be submitted (recorded as an error by the loop)."""
    c.result.inflight -= 1
    c.result.completed += 1


cdef inline uint64_t wait_ns(LoopControl *c, uint64_t now) noexcept nogil:
    """How long the loop may block waiting for completions before it has something to do."""
    cdef double due
    if c.interval_ns == 0.0 or not c.submitting or c.result.inflight >= c.spec.max_inflight:
        return IDLE_WAIT_NS
    due = c.next_due_ns - <double>now
    if due <= 0:
        return 0
    return <uint64_t>due if due < IDLE_WAIT_NS else IDLE_WAIT_NS


cdef inline void record_done(LoopControl *c, int op, uint64_t intended_ns, uint64_t submit_ns,
                             uint64_t done_ns, uint64_t nbytes) noexcept nogil:
    """A successful operation: its latency from the intended start (= submit in a closed loop);
    in rate mode also its service time and its schedule lag."""
    c.result.inflight -= 1
    c.result.completed += 1
    record_ok(&c.rec, op, done_ns - intended_ns, nbytes, done_ns)
    if c.interval_ns != 0.0:
        record_ok(&c.rec, c.spec.n_target_ops + op, done_ns - submit_ns, 0, done_ns)
        _record_lag(c, intended_ns, submit_ns, done_ns)


cdef inline void record_failed(LoopControl *c, int op, int code, uint64_t intended_ns, uint64_t submit_ns,
                               uint64_t done_ns) noexcept nogil:
    c.result.inflight -= 1
    c.result.completed += 1
    record_error(&c.rec, op, code, done_ns)
    if c.interval_ns != 0.0:
        _record_lag(c, intended_ns, submit_ns, done_ns)


cdef inline void _record_lag(LoopControl *c, uint64_t intended_ns, uint64_t submit_ns, uint64_t done_ns) noexcept nogil:
    cdef uint64_t lag = submit_ns - intended_ns if submit_ns > intended_ns else 0
    if lag > LATE_NS:
        c.result.late += 1
    record_ok(&c.rec, 2 * c.spec.n_target_ops, lag, 0, done_ns)


cdef inline bint scan_due(LoopControl *c, uint64_t now) noexcept nogil:
    """True every SCAN_EVERY_NS: time for the loop's stall scan and in-flight gauges."""
    if now - c.last_scan_ns < SCAN_EVERY_NS:
        return False
    c.last_scan_ns = now
    return True


cdef inline void note_inflight(LoopControl *c, int op, int64_t inflight, int64_t stalled, uint64_t now) noexcept nogil:
    """One op's in-flight and stalled counts from the loop's scan."""
    record_gauges(&c.rec, op, inflight, stalled, now)


cdef inline bint is_stalled(LoopControl *c, uint64_t submit_ns, uint64_t now) noexcept nogil:
    return c.spec.op_timeout_ns > 0 and now > submit_ns + c.spec.op_timeout_ns


cdef inline dict result_dict(LoopControl *c):
    return {"submitted": c.result.submitted, "completed": c.result.completed, "late": c.result.late,
            "inflight_left": c.result.inflight, "fatal_errno": c.result.fatal_errno}
