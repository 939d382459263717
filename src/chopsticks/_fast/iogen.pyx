# cython: language_level=3
"""The names of iogen.pxd's modes and op types, for the Python layers."""

RW_MODES = {"read": RW_READ, "write": RW_WRITE, "randread": RW_RANDREAD,
            "randwrite": RW_RANDWRITE, "randrw": RW_RANDRW, "rw": RW_RW, "verify": RW_VERIFY}
OP_NAMES = ("read", "write")  # index = OP_READ, OP_WRITE
assert OP_NAMES[OP_READ] == "read" and OP_NAMES[OP_WRITE] == "write"
