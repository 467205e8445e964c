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


# One extension module per folder of csrc/: name -> whether it links
# libseccomp.  _bpf and _sandbox run between fork and exec or on foreign
# programs and need only the kernel's headers.
EXTENSIONS = {
    "core": True,
    "bpf": False,
    "sandbox": False,
    "notify": True,
    "bench": False,
}


def extension(name, links_libseccomp):
    folder = os.path.join("csrc", name)
    compile_args = WARNINGS + extra_cflags
    link_args = list(extra_ldflags)
    macros = []
    if links_libseccomp:
        compile_args += seccomp_cflags
        link_args = seccomp_ldflags + link_args
        macros = seccomp_macros
    return Extension(
        f"seccompx._{name}",
        sources=sources(folder),
        include_dirs=["csrc"],
        define_macros=macros,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )


# SECCOMPX_ONLY=core,bpf builds only those extensions, for quick rebuilds.
only = {n for n in os.environ.get("SECCOMPX_ONLY", "").split(",") if n}
extensions = [
    extension(name, links)
    for name, links in EXTENSIONS.items()
    if os.path.isdir(os.path.join("csrc", name))
    and sources(os.path.join("csrc", name))
    and (not only or name in only)
]

setup(ext_modules=extensions)
