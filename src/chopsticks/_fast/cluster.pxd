# Connecting and closing a librados cluster handle, as every compiled loop on Ceph (rbd, rados) does it.
from chopsticks._fast.librados cimport (rados_t, rados_ioctx_t, rados_create2, rados_conf_read_file, rados_conf_set,
                                       rados_connect, rados_cluster_fsid, rados_ioctx_destroy, rados_shutdown)


cdef inline str connect_cluster(rados_t *cluster, str conf, str client_name, str keyring, int timeout_s,
                                error):
    """Create `cluster`, read `conf` (and `keyring`), connect; the cluster's fsid (None if it
    cannot be read). A failure raises error(errno, step, what), step "conf" or "connect"."""
    cdef int r
    cdef bytes b_timeout = str(timeout_s).encode()
    cdef char fsid[64]
    r = rados_create2(cluster, b"ceph", client_name.encode(), 0)
    if r < 0:
        raise error(-r, "conf", f"rados_create2({client_name})")
    r = rados_conf_read_file(cluster[0], conf.encode())
    if r < 0:
        raise error(-r, "conf", f"reading {conf}")
    if keyring:
        rados_conf_set(cluster[0], b"keyring", keyring.encode())
    # Fail fast on an unreachable cluster instead of librados's 300 s default.
    rados_conf_set(cluster[0], b"client_mount_timeout", b_timeout)
    rados_conf_set(cluster[0], b"rados_mon_op_timeout", b_timeout)
    with nogil:
        r = rados_connect(cluster[0])
    if r < 0:
        raise error(-r, "connect", f"connecting to the cluster of {conf} as {client_name}")
    if rados_cluster_fsid(cluster[0], fsid, sizeof(fsid)) < 0:
        return None
    return fsid.decode()


cdef inline void disconnect_cluster(rados_t *cluster, rados_ioctx_t *ioctx) noexcept nogil:
    """Destroy the pool context, then shut the cluster handle down; each only once (NULL after)."""
    if ioctx[0] != NULL:
        rados_ioctx_destroy(ioctx[0])
        ioctx[0] = NULL
    if cluster[0] != NULL:
        rados_shutdown(cluster[0])
        cluster[0] = NULL
