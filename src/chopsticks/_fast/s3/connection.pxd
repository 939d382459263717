# A keep-alive HTTP/1.1 connection's state machine, and the endpoint whose connections one epoll
# set drives.
from libc.stdint cimport uint64_t
from chopsticks._fast.sockets cimport sockaddr_storage, socklen_t, epoll_event

cdef enum:
    RECV_BYTES = 65536           # one socket read
    MAX_S3_CODES = 16
    S3_CODE_BYTES = 40

    # Failure codes (0 = a reply arrived). Below CODE_S3: 1 + an ERROR_KINDS index, given by the
    # Python layer (timeout_code, other_code). chopsticks.drivers.s3.native_driver names them.
    CODE_S3 = 32                 # + index of the reply's <Code> in the s3_codes table
    CODE_HTTP = 100              # + HTTP status, for an error reply whose <Code> is not in the table
    CODE_ERRNO = 700             # + errno of a socket call; + 0: the peer closed the connection
    CODE_ERRNO_MAX = 999
    CODE_TLS = 1000              # the TLS handshake or a record failed (not the certificate)
    CODE_TLS_VERIFY = 1001       # the server's certificate or host name did not verify

cdef enum ConnState:
    CONN_IDLE                    # no request: closed, or open and kept alive
    CONN_CONNECTING              # the TCP connect is under way
    CONN_TLS_HANDSHAKE           # connected; the TLS handshake is under way
    CONN_SENDING                 # the request head and body are going out
    CONN_RECEIVING               # the reply is coming in (its parser knows how far)

cdef enum Step:                  # what a step of the state machine says
    PENDING                      # waiting on the socket
    DONE                         # the request ended: a reply arrived, or a failure code is set
    RETIRE                       # the load has nothing more for this connection

cdef struct Conn:
    int index
    int fd
    ConnState state
    unsigned int events          # registered with epoll (0: not registered)
    bint connect_only            # the request is only to connect (S3Client.connect)
    libssl.SSL *ssl              # NULL: plain HTTP, or not connected
    unsigned int tls_wants       # the epoll event the SSL object waits for
    bint session_kept            # this connection's TLS session was offered to the endpoint
    uint64_t tls_start_ns
    # the request
    char *req
    size_t req_len
    const char *body
    size_t body_len
    size_t body_cycle            # a body longer than this repeats body[0:body_cycle] (0: it does not)
    size_t body_start            # ... from this offset of the repetition on (a part of an object)
    size_t sent
    bint coalesced               # TLS: the body was copied after the head in req
    # the reply
    char *rbuf                   # one socket read
    ReplyParser reply
    int code                     # 0: a reply arrived (see reply.status); else a failure code
    # timing
    uint64_t submit_ns
    uint64_t first_byte_ns
    uint64_t done_ns
    uint64_t reconnect_ns        # the TCP connect this request made first, 0 if none
    uint64_t tls_ns              # the TLS handshake this request made first, 0 if none
    bint connect_failed          # the request failed while connecting (TCP or TLS): nothing
                                 # reached the server

cdef struct Endpoint:
    Conn *conns
    int n
    int epfd
    epoll_event *events
    TlsEndpoint tls
    char *scratch                # the canonical request being signed
    Signer signer
    char host[256]
    sockaddr_storage addr
    socklen_t addr_len
    uint64_t timeout_ns
    bint tcp_nodelay
    bint tcp_quickack
    bint payload_sha256
    int timeout_code
    int other_code
    char s3_codes[MAX_S3_CODES][S3_CODE_BYTES]
    int n_s3_codes
    uint64_t connects
