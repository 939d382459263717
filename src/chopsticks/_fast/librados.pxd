# Declarations from <rados/librados.h> used by chopsticks, in the header's order. Nothing else.
from libc.stdint cimport int64_t, uint64_t

cdef extern from "rados/librados.h" nogil:
    ctypedef void *rados_t
    ctypedef void *rados_ioctx_t

    int rados_create2(rados_t *pcluster, const char *const clustername,
                      const char *const name, uint64_t flags)
    int rados_connect(rados_t cluster)
    void rados_shutdown(rados_t cluster)
    int rados_conf_read_file(rados_t cluster, const char *path)
    int rados_conf_set(rados_t cluster, const char *option, const char *value)
    int rados_cluster_fsid(rados_t cluster, char *buf, size_t len)
    int rados_ioctx_create(rados_t cluster, const char *pool_name, rados_ioctx_t *ioctx)
    void rados_ioctx_destroy(rados_ioctx_t io)
