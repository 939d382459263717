"""How s5cmd's error output is classified: a peer that hangs up while s5cmd still writes its
request is a connection failure, whichever of Go's words s5cmd reports it in (CI once saw
'use of closed network connection' counted as 'other')."""
import json

import pytest

from chopsticks.drivers.s3.s5cmd_driver import _driver_error

HUNG_UP = ('s5cmd: RequestError: send request failed caused by: Put "http://127.0.0.1:33767/b/k": readfrom tcp '
           '127.0.0.1:41022->127.0.0.1:33767: write tcp 127.0.0.1:41022->127.0.0.1:33767: use of closed network '
           'connection')


@pytest.mark.parametrize("text, kind", [
    (HUNG_UP, "connection"),
    ('RequestError: send request failed caused by: Put "http://127.0.0.1:9/b/k": dial tcp 127.0.0.1:9: connect: '
     'connection refused', "connection"),
    ("write tcp 127.0.0.1:1->127.0.0.1:2: write: connection reset by peer", "connection"),
    ("something s5cmd never said before", "other"),
])
def test_hang_ups_are_connection_failures(text, kind):
    output = json.dumps({"operation": "cp", "success": False, "error": text}).encode()
    assert _driver_error(output).kind == kind
