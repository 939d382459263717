# Declarations from the Linux socket and epoll headers used by chopsticks, grouped by header.
# Nothing else. (<sys/uio.h>'s iovec comes from Cython's own posix.uio.)
from posix.uio cimport iovec
from posix.time cimport timespec
from posix.signal cimport sigset_t

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    ctypedef unsigned short sa_family_t

    struct sockaddr:
        sa_family_t sa_family

    struct sockaddr_storage:
        sa_family_t ss_family

    struct msghdr:
        void *msg_name
        socklen_t msg_namelen
        iovec *msg_iov
        size_t msg_iovlen
        void *msg_control
        size_t msg_controllen
        int msg_flags

    enum:
        SOCK_STREAM
        SOCK_NONBLOCK
        SOCK_CLOEXEC
        SOL_SOCKET
        SO_ERROR
        MSG_NOSIGNAL
        MSG_DONTWAIT
        MSG_PEEK
        AF_INET
        AF_INET6

    int socket(int domain, int type, int protocol)
    int connect(int fd, const sockaddr *addr, socklen_t len)
    ssize_t sendmsg(int fd, const msghdr *message, int flags)
    ssize_t recv(int fd, void *buf, size_t n, int flags)
    int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)
    int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)

cdef extern from "<netinet/in.h>" nogil:
    ctypedef unsigned short in_port_t

    struct in_addr:
        pass

    struct sockaddr_in:
        sa_family_t sin_family
        in_port_t sin_port
        in_addr sin_addr

    struct in6_addr:
        pass

    struct sockaddr_in6:
        sa_family_t sin6_family
        in_port_t sin6_port
        in6_addr sin6_addr

    enum:
        IPPROTO_TCP

    unsigned short htons(unsigned short hostshort)

cdef extern from "<netinet/tcp.h>" nogil:
    enum:
        TCP_NODELAY
        TCP_QUICKACK

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char *cp, void *buf)

cdef extern from "<sys/epoll.h>" nogil:
    enum:
        EPOLL_CLOEXEC
        EPOLLIN
        EPOLLOUT
        EPOLL_CTL_ADD
        EPOLL_CTL_MOD

    ctypedef union epoll_data_t:
        void *ptr
        int fd
        unsigned int u32
        unsigned long u64

    struct epoll_event:
        unsigned int events
        epoll_data_t data

    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event *event)
    int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout)
    int epoll_pwait2(int epfd, epoll_event *events, int maxevents, const timespec *timeout,
                     const sigset_t *sigmask)
