# The HTTP/1.1 reply parser a connection holds: status, framing (Content-Length, chunked, until
# close), keep-alive, and the bytes a caller wants kept.
from libc.stdint cimport uint64_t, int64_t

cdef enum:
    HEAD_BYTES = 16384           # a reply's header block must fit
    ERR_BODY_BYTES = 4096        # kept of an error reply's body, for its <Code>

cdef enum ChunkState:
    CHUNK_SIZE
    CHUNK_EXT
    CHUNK_DATA
    CHUNK_DATA_END
    CHUNK_TRAILER
    CHUNK_TRAILER_LINE

cdef struct ReplyParser:
    char *head                   # the header block as it arrives
    size_t head_len
    bint in_body
    bint no_body                 # a reply to HEAD: the header block is all of it (set per request)
    int status
    int64_t content_length       # -1: not given
    bint chunked
    bint keep_alive
    uint64_t body_bytes
    ChunkState chunk_state
    uint64_t chunk_left
    int chunk_digits
    bint keep                    # keep the whole reply (the driver); else only an error body (set
                                 # by the parser's user)
    char *kbuf                   # kept: header block [0:hlen], then body [hlen:klen]
    size_t hlen
    size_t klen
    size_t kcap
    bint oom                     # the kept reply did not fit in memory
