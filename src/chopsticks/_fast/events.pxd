# Declarations from <sys/eventfd.h> and <poll.h> used by the completion loops (rbd, rados), grouped
# by header. Nothing else. (<time.h>'s timespec comes from Cython's own posix.time.)
from posix.time cimport timespec

cdef extern from "<sys/eventfd.h>" nogil:
    int eventfd(unsigned int initval, int flags)
    enum: EFD_CLOEXEC

cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int ppoll(pollfd *fds, unsigned long nfds, const timespec *timeout, const void *sigmask)
    enum: POLLIN
