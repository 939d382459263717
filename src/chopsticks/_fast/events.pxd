# Declarations from <sys/eventfd.h> and <poll.h> used by the completion loops (rbd, rados) to wait,
# and from <sys/prctl.h> for how precisely a thread's timed waits end, grouped by header. Nothing
# else. (<time.h>'s timespec comes from Cython's own posix.time.)
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

cdef extern from "<sys/prctl.h>" nogil:
    int prctl(int option, ...)
    enum: PR_SET_TIMERSLACK
