# Declarations from OpenSSL's libcrypto used by chopsticks, one block per header, each in the
# header's order. Nothing else.
#
# Only the low-level SHA-256 functions: measured on OpenSSL 3.0 (Debian 12) they allocate nothing
# per call (464 ns for 300 bytes), where the one-shot SHA256() allocates 3 times and HMAC() 13 times
# (3.9 µs) per call. HMAC-SHA256 is built on them in s3/sigv4.pyx. They are marked deprecated in
# 3.0, still shipped; s3_loop.pyx selects the 1.1.1 API level so they compile without warnings.
# The x509 and err declarations name why a TLS handshake failed.

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

cdef extern from "<openssl/x509.h>" nogil:
    const char *X509_verify_cert_error_string(long n)

cdef extern from "<openssl/x509_vfy.h>" nogil:
    ctypedef struct X509_STORE_CTX:
        pass
    ctypedef struct X509_VERIFY_PARAM:
        pass

    enum:
        X509_V_OK

    int X509_VERIFY_PARAM_set1_ip_asc(X509_VERIFY_PARAM *param, const char *ipasc)

cdef extern from "<openssl/err.h>" nogil:
    unsigned long ERR_get_error()
    void ERR_clear_error()
    void ERR_error_string_n(unsigned long e, char *buf, size_t len)
