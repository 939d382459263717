# cython: language_level=3
# distutils: define_macros=OPENSSL_API_COMPAT=0x10101000L
"""A compiled S3 client: HTTP/1.1 keep-alive connections (plain or TLS) on non-blocking sockets
driven by epoll, requests signed with AWS SigV4, without the GIL.

`S3Client` makes one blocking request at a time (the `native` driver). `S3Load` has a client and
keeps one request in flight on each of its connections, recording every completion into a
worker's shared-memory rows (the `bench s3 --driver native` loop). One concern per included file:

    s3/text       bounded writes and byte scanning
    s3/sigv4      AWS Signature Version 4 and the signed request head
    s3/http1      the HTTP/1.1 reply parser a connection holds
    s3/tls        TLS with libssl, non-blocking, session resumption
    s3/connection a connection's state machine; the endpoint whose connections one epoll set drives
    s3/client     the blocking client
    s3/load       the load of one worker"""
from libc.stdint cimport uint64_t, int64_t
from libc.stdlib cimport calloc, malloc, realloc, free
from libc.string cimport memcpy, memset, memcmp, strlen
from libc.errno cimport errno, EINTR, EAGAIN, EINPROGRESS
from libc.time cimport time_t, tm, gmtime_r
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME
from posix.unistd cimport close
from posix.uio cimport iovec
import numpy as np
cimport numpy as cnp

from chopsticks._fast.libcrypto cimport *
from chopsticks._fast.sockets cimport *
from chopsticks._fast.histogram cimport (record_ok, record_error, record_stall, now_ns, NBUCKETS, N_PHASES, ERR_CODES,
                                        TS_FIELDS, ERR_VERIFY)
from chopsticks._fast.payload cimport (alloc_aligned, fill, stamp, splitmix64, PATTERN_RANDOM, STAMP_EVERY, STAMP_BYTES,
                                       SEQ_WORKER_SHIFT, OBJECT_SHIFT, BLOCK_CORRUPT)
from chopsticks._fast.verify cimport init_verifier, free_verifier, verify_read, verify_report, _note, VERIFY_LOST
from chopsticks._fast.engine cimport (LoopControl, IDLE_WAIT_NS, init_control, may_submit, stop_due, begin_op,
                                     record_done, record_failed, scan_due, note_inflight, is_stalled, result_dict)

include "s3/text.pyx"
include "s3/sigv4.pyx"
include "s3/http1.pyx"
include "s3/tls.pyx"
include "s3/connection.pyx"
include "s3/client.pyx"
include "s3/load.pyx"
