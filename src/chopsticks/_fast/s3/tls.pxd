# TLS over a connection's socket with libssl, driven non-blocking from the epoll loop.
from libc.stdint cimport uint64_t

cdef struct TlsEndpoint:
    libssl.SSL_CTX *ctx          # NULL: plain HTTP
    libssl.SSL_SESSION *session  # the last full handshake's session, resumed by new connections
    char name[256]               # the host name checked and sent as SNI ("" for an IP address)
    char ip[64]                  # the IP address checked ("" for a host name)
    bint verify                  # the server's certificate is checked
    long verify_result           # why the last handshake that failed verification failed
    uint64_t handshakes
    uint64_t resumed             # handshakes that resumed the kept session
