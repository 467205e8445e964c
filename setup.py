"""Build the seccompx extension modules.

``seccompx._core`` links libseccomp.  By default it links the system
library found by pkg-config.  Set ``SECCOMPX_LIBSECCOMP_STATIC`` to the
path of ``libseccomp.a`` to link that archive statically instead.
"""

import os
import shlex
import subprocess

from setuptools import Extension, setup


def pkg_config(*args):
    """Return the words pkg-config prints for libseccomp, or None."""
    try:
        out = subprocess.run(
            ["pkg-config", *args, "libseccomp"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def libseccomp_options():
    """Return compile and link options for libseccomp."""
    static = os.environ.get("SECCOMPX_LIBSECCOMP_STATIC")
    include = os.environ.get("SECCOMPX_LIBSECCOMP_INCLUDE")
    cflags = ["-I" + include] if include else pkg_config("--cflags") or []
    if static:
        if not os.path.isfile(static):
            raise SystemExit(
                f"SECCOMPX_LIBSECCOMP_STATIC={static!r} is not a file; "
                "set it to the path of libseccomp.a or unset it"
            )
        # Hide libseccomp's symbols so that the extension never binds to,
        # or exports, a second copy loaded by another module.
        ldflags = [static, "-Wl,--exclude-libs,ALL"]
        macros = [("SECCOMPX_STATIC_LIBSECCOMP", "1")]
    else:
        ldflags = pkg_config("--libs") or ["-lseccomp"]
        macros = []
    return cflags, ldflags, macros


WARNINGS = ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
extra_cflags = shlex.split(os.environ.get("SECCOMPX_EXTRA_CFLAGS", ""))
extra_ldflags = shlex.split(os.environ.get("SECCOMPX_EXTRA_LDFLAGS", ""))
seccomp_cflags, seccomp_ldflags, seccomp_macros = libseccomp_options()


def sources(folder):
    return sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if name.endswith(".c")
    )


extensions = [
    Extension(
        "seccompx._core",
        sources=sources("csrc/core"),
        include_dirs=["csrc"],
        define_macros=seccomp_macros,
        extra_compile_args=WARNINGS + seccomp_cflags + extra_cflags,
        extra_link_args=seccomp_ldflags + extra_ldflags,
    ),
]

setup(ext_modules=extensions)
