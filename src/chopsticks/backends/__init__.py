"""Backends: each a frozen, picklable Target (rbd, null, s3, native_s3, rados, scenario) that
validates itself in the parent and opens one session per worker process. What the engine needs of
them is its contract (chopsticks.engine.contract: Target, WorkerSession); the engine imports no
backend module."""
