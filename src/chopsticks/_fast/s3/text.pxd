# Bounded writes into fixed buffers, shared by the signer, the request builder and the load.

cdef struct Buf:
    char *p
    size_t len
    size_t cap
    bint overflow                # a write did not fit: the text is incomplete
