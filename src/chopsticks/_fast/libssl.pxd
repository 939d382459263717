# Declarations from OpenSSL's libssl used by chopsticks, grouped as in <openssl/ssl.h> (and the
# one <openssl/tls1.h> macro it relies on). Nothing else. Macros that wrap SSL_ctrl /
# SSL_CTX_ctrl are declared as the functions they read as.
from chopsticks._fast.libcrypto cimport X509_STORE_CTX, X509_VERIFY_PARAM

cdef extern from "<openssl/ssl.h>" nogil:
    ctypedef struct SSL_METHOD:
        pass
    ctypedef struct SSL_CTX:
        pass
    ctypedef struct SSL:
        pass
    ctypedef struct SSL_SESSION:
        pass

    ctypedef int (*SSL_verify_cb)(int preverify_ok, X509_STORE_CTX *x509_ctx)

    enum:
        SSL_MODE_ENABLE_PARTIAL_WRITE
        SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER

    long SSL_CTX_set_mode(SSL_CTX *ctx, long op)

    enum:
        SSL_VERIFY_NONE
        SSL_VERIFY_PEER

    enum:
        SSL_ERROR_NONE
        SSL_ERROR_SSL
        SSL_ERROR_WANT_READ
        SSL_ERROR_WANT_WRITE
        SSL_ERROR_SYSCALL
        SSL_ERROR_ZERO_RETURN

    SSL_CTX *SSL_CTX_new(const SSL_METHOD *meth)
    void SSL_CTX_free(SSL_CTX *)

    int SSL_pending(const SSL *s)
    int SSL_set_fd(SSL *s, int fd)

    void SSL_SESSION_free(SSL_SESSION *ses)
    int SSL_set_session(SSL *to, SSL_SESSION *session)

    void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, SSL_verify_cb callback)

    SSL *SSL_new(SSL_CTX *ctx)
    int SSL_set1_host(SSL *s, const char *hostname)
    X509_VERIFY_PARAM *SSL_get0_param(SSL *ssl)

    void SSL_free(SSL *ssl)
    int SSL_read(SSL *ssl, void *buf, int num)
    int SSL_write(SSL *ssl, const void *buf, int num)
    int SSL_get_error(const SSL *s, int ret_code)

    const SSL_METHOD *TLS_client_method()

    int SSL_do_handshake(SSL *s)
    int SSL_shutdown(SSL *s)
    void SSL_set_connect_state(SSL *s)

    int SSL_CTX_set_default_verify_paths(SSL_CTX *ctx)
    int SSL_CTX_load_verify_locations(SSL_CTX *ctx, const char *CAfile, const char *CApath)
    SSL_SESSION *SSL_get1_session(SSL *ssl)
    long SSL_get_verify_result(const SSL *ssl)

    int SSL_session_reused(const SSL *s)

cdef extern from "<openssl/tls1.h>" nogil:
    long SSL_set_tlsext_host_name(SSL *s, const char *name)
