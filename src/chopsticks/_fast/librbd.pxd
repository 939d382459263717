# Declarations from <rbd/librbd.h> used by chopsticks, in the header's order. Nothing else.
from libc.stdint cimport int64_t, uint64_t
from chopsticks._fast.librados cimport rados_ioctx_t

cdef extern from "rbd/librbd.h" nogil:
    ctypedef void *rbd_image_t
    ctypedef void *rbd_completion_t
    ctypedef void (*rbd_callback_t)(rbd_completion_t cb, void *arg)

    enum:
        EVENT_TYPE_PIPE
        EVENT_TYPE_EVENTFD

    ctypedef struct rbd_image_info_t:
        uint64_t size
        uint64_t obj_size
        uint64_t num_objs
        int order

    int rbd_create(rados_ioctx_t io, const char *name, uint64_t size, int *order)
    int rbd_open(rados_ioctx_t io, const char *name, rbd_image_t *image, const char *snap_name)
    int rbd_close(rbd_image_t image)
    int rbd_stat(rbd_image_t image, rbd_image_info_t *info, size_t infosize)
    int rbd_set_image_notification(rbd_image_t image, int fd, int type)

    int rbd_aio_write(rbd_image_t image, uint64_t off, size_t len, const char *buf,
                      rbd_completion_t c)
    int rbd_aio_read(rbd_image_t image, uint64_t off, size_t len, char *buf, rbd_completion_t c)
    int rbd_aio_create_completion(void *cb_arg, rbd_callback_t complete_cb, rbd_completion_t *c)
    ssize_t rbd_aio_get_return_value(rbd_completion_t c)
    void *rbd_aio_get_arg(rbd_completion_t c)
    void rbd_aio_release(rbd_completion_t c)
    int rbd_flush(rbd_image_t image)
    int rbd_poll_io_events(rbd_image_t image, rbd_completion_t *comps, int numcomp)
