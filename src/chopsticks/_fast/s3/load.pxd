# The load of one worker: a mix of operations kept in flight on every connection of a client.
from libc.stdint cimport uint64_t, int64_t
cimport numpy as cnp
from chopsticks._fast.engine cimport LoopControl
from chopsticks._fast.verify cimport Verifier
from chopsticks._fast.mix cimport Mix, set_mix, pick_op

cdef enum:
    PATH_BYTES = 1280            # an object's path: base + serial
    SERIAL_DIGITS = 12
    PAYLOAD_MAX = 16777216       # the random payload buffer; larger objects repeat it
    RANGE_HEADER_BYTES = 64
    UPLOAD_ID_BYTES = 384        # a multipart upload's id, URI-encoded
    QUERY_BYTES = 448            # partNumber=N&uploadId=ID
    ETAG_BYTES = 80              # a part's ETag as the server quoted it
    PART_XML_BYTES = 128         # <Part><PartNumber>N</PartNumber><ETag>..</ETag></Part>
    # In the measured run, after an operation whose connect failed (refused, unreachable, timed
    # out), its connection waits before its next one: BACKOFF_MIN_NS, doubling with each failure in a row up to
    # BACKOFF_MAX_NS; a connect that succeeds resets it.
    BACKOFF_MIN_NS = 1000000
    BACKOFF_MAX_NS = 1000000000

    # Operations, in OP_NAMES order; the three last slots time parts of other operations.
    OP_PUT = 0
    OP_GET = 1
    OP_DELETE = 2
    OP_HEAD = 3
    OP_LIST = 4
    OP_GET_TTFB = 5              # a GET's time to the first byte of the reply
    OP_RECONNECT = 6             # the TCP connect an operation had to make first
    OP_TLS_HANDSHAKE = 7         # the TLS handshake an operation had to make first
    OP_PUT_PART = 8              # one part of a multipart PUT
    N_S3_OPS = 5

cdef enum UploadStep:            # which request of a multipart PUT a connection has in flight
    NOT_MULTIPART
    UPLOAD_INITIATE
    UPLOAD_PART
    UPLOAD_COMPLETE
    UPLOAD_ABORT

cdef struct Upload:              # one object going up in parts, its parts on any connection
    bint active
    int owner                    # the connection whose object it is (which keeps its key)
    uint64_t key
    uint64_t size
    uint64_t seq                 # --verify: the write's seq, stamped in every part
    uint64_t start_ns            # the object's PUT latency starts: its intended start
    uint64_t submit_ns           # when its initiate was sent
    int parts
    int next_part                # the next part to send, from 1; parts + 1: all sent
    int parts_done
    int inflight                 # its requests in flight
    bint failed                  # a part failed: abort once none is in flight
    int code                     # the first failure
    bint finish_due              # its complete or abort is due on the next idle connection
    char upload_id[UPLOAD_ID_BYTES]
    size_t upload_id_len
    char *etags                  # parts × ETAG_BYTES (ETag of part i at i * ETAG_BYTES)
    size_t *etag_len
    char *document               # the CompleteMultipartUpload body

cdef struct Slot:                # one connection's share of the load
    int op
    uint64_t intended_ns         # when its operation should have started (rate mode), else its start
    uint64_t key
    size_t key_index             # where key is in keys (GET, HEAD, DELETE)
    uint64_t seq                 # --verify: the seq of the PUT in flight
    bint stalled                 # counted as older than --op-timeout
    bint waiting                 # backing off: no operation before wake_ns
    uint64_t wake_ns
    uint64_t backoff_ns          # the last wait, 0 after a successful connect
    uint64_t *keys               # serials of this connection's objects
    uint64_t *sizes              # --verify: their sizes
    uint64_t *seqs               # --verify: the seqs of their last writes
    size_t nkeys
    size_t n_rewrite             # --verify-against: keys[0 .. n_rewrite) are earlier objects PUTs
                                 # rewrite first, from the last (the lowest serial) down
    size_t cap_keys
    char *path
    size_t path_len
    char range_header[RANGE_HEADER_BYTES]   # "range:bytes=FIRST-LAST\n" of a ranged GET
    uint64_t range_first
    UploadStep step              # of the multipart PUT it works for
    int upload                   # that PUT's index in uploads
    int part
    char query[QUERY_BYTES]
    char *body                   # --verify: this connection's copy of the payload, stamped per PUT or part

cdef struct Load:
    Endpoint *ep
    Slot *slots                  # one per connection of ep
    Mix mix
    bint delete_only             # a connection with no object left retires
    uint64_t rng
    uint64_t size_min
    uint64_t size_span           # sizes are drawn from [size_min, size_min + size_span]
    const char *payload
    size_t payload_len
    uint64_t range_size          # GETs read this many bytes at a random offset (0: whole objects)
    const char *existing         # the URI-encoded keys of an existing data set, end to end
    const uint64_t *existing_ends  # where each of them ends in existing
    uint64_t n_existing          # 0: the load's own objects
    uint64_t multipart_threshold # PUTs of larger objects go in parts (0: never)
    uint64_t part_size
    int max_parts                # of one object
    Upload *uploads              # one per connection: at most that many objects go up in parts
    const char *base             # "/bucket/prefix", URI-encoded: object paths are base + serial
    size_t base_len
    const char *bucket_path
    size_t bucket_path_len
    const char *list_query
    size_t list_query_len
    uint64_t serial              # also the worker's write number (a PUT of an earlier object
                                 # under --verify-against skips one serial)
    uint64_t earlier_serials     # --verify-against: serials up to this are the earlier run's objects
    bint verify                  # stamp every PUT body, check every GET body
    uint64_t seq_base            # --verify: worker index << SEQ_WORKER_SHIFT
    Verifier ver                 # --verify: its checks' counts and first failures
    LoopControl *ctl             # this pass's limits, schedule and recorder (_fast/engine.pxd)
    bint measured                # the measured run (not prefill or cleanup): connects back off
    int waiting                  # connections parked: backing off, or until the next intended start
    uint64_t next_wake_ns        # the earliest wake_ns of those

cdef class S3Load:
    cdef S3Client client
    cdef Load load
    cdef char *payload
    cdef bytes _base, _bucket_path, _list_query, _existing
    cdef object _existing_ends
    cdef int _allocate_uploads(self, uint64_t threshold, uint64_t part_size, uint64_t size_max) except -1
    cdef int _allocate_verify(self, uint64_t seed, uint64_t size_max, uint64_t worker_index) except -1
    cdef int _set_mix(self, list mix) except -1
    cdef dict _pass(self, cnp.uint64_t[::1] hist, cnp.int64_t[::1] ts, cnp.int64_t[::1] errors,
                    cnp.int64_t[::1] stop, dict spec, list mix, bint measured)
