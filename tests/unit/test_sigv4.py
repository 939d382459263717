"""The compiled client's SigV4 signing against the examples AWS publishes for S3 header-based
auth ("Signature Calculations for the Authorization Header", all at 20130524T000000Z, region
us-east-1, bucket examplebucket), and the GET object example recomputed by hand step by step."""
import hashlib
import hmac

import pytest

from chopsticks._fast import s3_loop
from chopsticks.drivers.s3.native_driver import canonical_query

HOST = "examplebucket.s3.amazonaws.com"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20130524T000000Z"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
CREDENTIAL = f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20130524/us-east-1/s3/aws4_request"


def signed(method, path, query=b"", headers=b"", body=b"", payload_sha256=True) -> dict[str, str]:
    """The header fields of the request the client would send (lower-case names)."""
    head = s3_loop.signed_request(HOST, ACCESS_KEY, SECRET_KEY, "us-east-1", AMZ_DATE, method, path, query,
                                  headers, body, payload_sha256)
    lines = head.decode().split("\r\n")
    assert lines[-2:] == ["", ""]
    return {"request-line": lines[0], **{k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:-2])}}


@pytest.mark.parametrize("example, method, path, query, headers, body, signed_headers, signature", [
    ("GET object", "GET", b"/test.txt", b"", b"range:bytes=0-9\n", b"",
     "host;range;x-amz-content-sha256;x-amz-date",
     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    ("PUT object", "PUT", b"/test%24file.text", b"",
     b"date:Fri, 24 May 2013 00:00:00 GMT\nx-amz-storage-class:REDUCED_REDUNDANCY\n", b"Welcome to Amazon S3.",
     "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
    ("GET bucket lifecycle", "GET", b"/", b"lifecycle=", b"", b"",
     "host;x-amz-content-sha256;x-amz-date",
     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
    ("GET bucket (list objects)", "GET", b"/", b"max-keys=2&prefix=J", b"", b"",
     "host;x-amz-content-sha256;x-amz-date",
     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
])
def test_aws_published_examples(example, method, path, query, headers, body, signed_headers, signature):
    fields = signed(method, path, query, headers, body)
    assert fields["authorization"] == f"{CREDENTIAL},SignedHeaders={signed_headers},Signature={signature}"
    assert fields["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert fields["request-line"] == f"{method} {path.decode()}{'?' + query.decode() if query else ''} HTTP/1.1"
    assert fields["host"] == HOST and fields["x-amz-date"] == AMZ_DATE
    assert ("content-length" in fields) == (method == "PUT")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def test_get_object_example_by_hand():
    """The documented steps: canonical request → its SHA-256 → string to sign → signing key →
    signature, with AWS's published intermediate hash."""
    canonical = "\n".join(["GET", "/test.txt", "", f"host:{HOST}", "range:bytes=0-9",
                           f"x-amz-content-sha256:{EMPTY_SHA256}", f"x-amz-date:{AMZ_DATE}", "",
                           "host;range;x-amz-content-sha256;x-amz-date", EMPTY_SHA256])
    canonical_hash = hashlib.sha256(canonical.encode()).hexdigest()
    assert canonical_hash == "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
    string_to_sign = f"AWS4-HMAC-SHA256\n{AMZ_DATE}\n20130524/us-east-1/s3/aws4_request\n{canonical_hash}"
    key = _hmac(f"AWS4{SECRET_KEY}".encode(), "20130524")
    for part in ("us-east-1", "s3", "aws4_request"):
        key = _hmac(key, part)
    by_hand = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    assert signed("GET", b"/test.txt", headers=b"range:bytes=0-9\n")["authorization"].endswith(f"Signature={by_hand}")


def test_unsigned_payload_is_the_default_and_is_signed_as_such():
    body = b"x" * 4096
    unsigned = signed("PUT", b"/bucket/key", body=body, payload_sha256=False)
    hashed = signed("PUT", b"/bucket/key", body=body, payload_sha256=True)
    assert unsigned["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert unsigned["content-length"] == "4096"
    assert unsigned["authorization"] != hashed["authorization"]


def test_a_later_day_changes_the_signing_key():
    one = s3_loop.signed_request(HOST, ACCESS_KEY, SECRET_KEY, "us-east-1", "20130524T235959Z", "GET", b"/k")
    two = s3_loop.signed_request(HOST, ACCESS_KEY, SECRET_KEY, "us-east-1", "20130525T000000Z", "GET", b"/k")
    assert b"/20130524/us-east-1/s3/aws4_request," in one and b"/20130525/us-east-1/s3/aws4_request," in two


def test_canonical_query_sorts_and_encodes():
    assert canonical_query({"prefix": "a b/ü", "list-type": "2", "uploads": ""}) == \
        b"list-type=2&prefix=a%20b%2F%C3%BC&uploads="
