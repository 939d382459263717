# AWS Signature Version 4: the signer's state and the request it signs.
from libc.time cimport time_t
from chopsticks._fast.libcrypto cimport SHA256_DIGEST_LENGTH

cdef enum:
    HEX_DIGEST = 64              # a SHA-256 in hex
    REQ_BYTES = 16384            # a request line and its headers

cdef struct Signer:
    char access_key[128]
    unsigned char secret[128]    # "AWS4" + the secret key: the key of the date's HMAC
    size_t secret_len
    char region[64]
    char amz_date[17]            # YYYYMMDDTHHMMSSZ
    char scope[128]              # YYYYMMDD/region/s3/aws4_request
    unsigned char key[SHA256_DIGEST_LENGTH]   # the signing key of the scope's day
    time_t clock_sec             # the second amz_date was taken


cdef struct Req:
    const char *method
    const char *path             # URI-encoded, from the leading /
    size_t path_len
    const char *query            # canonical: sorted, URI-encoded name=value pairs joined by &
    size_t query_len
    const char *headers          # extra signed headers, "name:value\n" lines, lower-case, sorted
    size_t headers_len
    const char *body
    size_t body_len
    bint has_body                # send Content-Length (PUT, POST) even for an empty body


cdef struct Head:
    const char *name
    const char *value
    size_t value_len
