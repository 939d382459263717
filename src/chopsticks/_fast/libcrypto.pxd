# Declarations from OpenSSL's libcrypto used by chopsticks, in the header's order. Nothing else.
#
# Only the low-level SHA-256 functions: measured on OpenSSL 3.0 (Debian 12) they allocate nothing
# per call (464 ns for 300 bytes), where the one-shot SHA256() allocates 3 times and HMAC() 13 times
# (3.9 µs) per call. HMAC-SHA256 is built on them in s3_loop.pyx. They are marked deprecated in
# 3.0, still shipped; s3_loop.pyx selects the 1.1.1 API level so they compile without warnings.

cdef extern from "<openssl/sha.h>" nogil:
    enum:
        SHA256_CBLOCK

    ctypedef struct SHA256_CTX:
        pass

    int SHA256_Init(SHA256_CTX *c)
    int SHA256_Update(SHA256_CTX *c, const void *data, size_t len)
    int SHA256_Final(unsigned char *md, SHA256_CTX *c)

    enum:
        SHA256_DIGEST_LENGTH
