"""RBD random I/O: block-aligned random reads and writes on one image through librbd (python3-rbd),
each user issuing one synchronous request at a time — users play the part of --iodepth.

Tasks: read ×7, write ×3, at random block-aligned offsets within the first `span_mb` of the image
(0: the whole image). For raw saturation use `chopsticks bench rbd` (compiled aio loop); this
scenario shows how to script block I/O with think times.

Parameters (`rbd_random_io:` in the scenario config): block_size_kb, span_mb, min_wait_s,
max_wait_s. The image comes from the RBD workload config (--workload-config with conf, keyring,
client_id, pool, image; default: the running `chopsticks lab`'s rbd/test).

    chopsticks run -f scenarios/rbd_random_io.py --headless --users 16 --spawn-rate 16 --duration 1m
"""
from chopsticks.workloads import RBDWorkload, between, get_scenario_value, task

BLOCK = int(get_scenario_value("rbd_random_io", "block_size_kb") * 1024)
SPAN = int(get_scenario_value("rbd_random_io", "span_mb") * 2**20)


class RbdRandomIo(RBDWorkload):
    wait_time = between(get_scenario_value("rbd_random_io", "min_wait_s"),
                        get_scenario_value("rbd_random_io", "max_wait_s"))

    def on_start(self):
        self.blocks = min(SPAN or self.client.size, self.client.size) // BLOCK
        if self.blocks == 0:
            raise ValueError(f"a {BLOCK}-byte block does not fit in the {self.client.size}-byte image")

    def offset(self):
        return self.random.randrange(self.blocks) * BLOCK

    @task(7)
    def read(self):
        data = self.client.read(self.offset(), BLOCK)
        if data is not None and len(data) != BLOCK:
            raise ValueError(f"read {len(data)} bytes, expected {BLOCK}")

    @task(3)
    def write(self):
        self.client.write(self.offset(), self.generate_data(BLOCK))
