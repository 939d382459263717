# Declarations from <rados/librados.h> used by chopsticks, in the header's order. Nothing else.
from libc.stdint cimport int64_t, uint64_t
from posix.time cimport time_t

cdef extern from "rados/librados.h" nogil:
    ctypedef void *rados_t
    ctypedef void *rados_ioctx_t
    ctypedef void *rados_completion_t

    # Setup and Teardown
    int rados_create2(rados_t *pcluster, const char *const clustername,
                      const char *const name, uint64_t flags)
    int rados_connect(rados_t cluster)
    void rados_shutdown(rados_t cluster)

    # Configuration
    int rados_conf_read_file(rados_t cluster, const char *path)
    int rados_conf_set(rados_t cluster, const char *option, const char *value)
    int rados_cluster_fsid(rados_t cluster, char *buf, size_t len)

    # Pools
    int rados_ioctx_create(rados_t cluster, const char *pool_name, rados_ioctx_t *ioctx)
    void rados_ioctx_destroy(rados_ioctx_t io)
    int64_t rados_pool_lookup(rados_t cluster, const char *pool_name)
    int rados_pool_create(rados_t cluster, const char *pool_name)

    # Object Locators
    void rados_ioctx_set_namespace(rados_ioctx_t io, const char *nspace)

    # Asynchronous I/O
    ctypedef void (*rados_callback_t)(rados_completion_t cb, void *arg)
    int rados_aio_create_completion2(void *cb_arg, rados_callback_t cb_complete, rados_completion_t *pc)
    int rados_aio_wait_for_complete_and_cb(rados_completion_t c)
    int rados_aio_get_return_value(rados_completion_t c)
    void rados_aio_release(rados_completion_t c)
    int rados_aio_write_full(rados_ioctx_t io, const char *oid, rados_completion_t completion,
                             const char *buf, size_t len)
    int rados_aio_remove(rados_ioctx_t io, const char *oid, rados_completion_t completion)
    int rados_aio_read(rados_ioctx_t io, const char *oid, rados_completion_t completion,
                       char *buf, size_t len, uint64_t off)
    int rados_aio_stat(rados_ioctx_t io, const char *o, rados_completion_t completion,
                       uint64_t *psize, time_t *pmtime)

    # Mon/OSD/PG commands
    int rados_mon_command(rados_t cluster, const char **cmd, size_t cmdlen, const char *inbuf,
                          size_t inbuflen, char **outbuf, size_t *outbuflen, char **outs, size_t *outslen)
    void rados_buffer_free(char *buf)
