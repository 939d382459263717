# The blocking client: one request at a time on an endpoint's connections (the `native` driver),
# and the endpoint a load drives.

cdef class S3Client:
    cdef Endpoint ep
    cdef int _set_address(self, int family, str address, int port) except -1
