"""Declares the Cython extensions; all metadata lives in pyproject.toml.

The librbd and librados extensions are built only where their headers exist (Debian: librbd-dev,
librados-dev); without them, the RBD and RADOS commands say in one line what to install.
"""
import os
import sysconfig

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

FAST = "src/chopsticks/_fast"


def _has_header(name: str) -> bool:
    dirs = ["/usr/include", "/usr/local/include", sysconfig.get_config_var("INCLUDEDIR") or ""]
    dirs += os.environ.get("CPATH", "").split(":")
    return any(d and os.path.exists(os.path.join(d, name)) for d in dirs)


def ext(name: str, **kw) -> Extension:
    return Extension(
        f"chopsticks._fast.{name}",
        [f"{FAST}/{name}.pyx"],
        include_dirs=[numpy.get_include(), FAST],
        extra_compile_args=["-O3", "-Wno-unused-function"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        **kw,
    )


extensions = [ext("histogram"), ext("payload"), ext("object_verifier"), ext("iogen"), ext("null_loop"), ext("schedule")]
if _has_header("rbd/librbd.h") and _has_header("rados/librados.h"):
    extensions.append(ext("rbd_loop", libraries=["rbd", "rados"]))
if _has_header("rados/librados.h"):
    extensions.append(ext("rados_loop", libraries=["rados"]))
if _has_header("openssl/ssl.h"):
    extensions.append(ext("s3_loop", libraries=["ssl", "crypto"]))

setup(
    ext_modules=cythonize(
        extensions,
        # cimports by package path (chopsticks._fast.x) from any folder, without an installed chopsticks
        include_path=["src"],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False},
    )
)
