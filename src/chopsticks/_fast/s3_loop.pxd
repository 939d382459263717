# The compiled S3 client's types, one .pxd per concern, included into one extension (as uvloop's
# loop.pxd) so that calls between the parts stay C calls. s3_loop.pyx includes the matching .pyx.
# (libssl is cimported here: Cython does not resolve `cimport package.module as name` in a file
# included from a subdirectory.)
cimport chopsticks._fast.libssl as libssl
include "s3/text.pxd"
include "s3/sigv4.pxd"
include "s3/http1.pxd"
include "s3/tls.pxd"
include "s3/connection.pxd"
include "s3/client.pxd"
include "s3/load.pxd"
