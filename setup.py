"""Build the seccompx extension modules.

The extensions flagged in ``EXTENSIONS`` link libseccomp.  By default they
link the system library found by pkg-config.  Set
``SECCOMPX_LIBSECCOMP_STATIC`` to the path of ``libseccomp.a`` to link that
archive statically instead.  Its headers come from
``SECCOMPX_LIBSECCOMP_INCLUDE``, else from ``include/`` beside the
archive's ``lib/``, else from pkg-config.  A static build also puts
libseccomp's licence (LGPL-2.1) into the wheel's metadata and a notice
naming the libseccomp version into the package.
"""

import json
import os
import re
import shlex
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


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


# A static build gives its copy of libseccomp the allocator in csrc/heap,
# which keeps libseccomp's blocks together (see heap.c for why).  --wrap
# sends every call to these functions, from the archive and from the
# extension, to the versions there.
HEAP_SOURCES = ["csrc/heap/heap.c"]
HEAP_HEADERS = ["csrc/heap/heap.h"]
HEAP_WRAP = ["-Wl,--wrap=" + name for name in ("malloc", "calloc", "realloc", "free")]
# C library functions that resize, free or inspect a block that the caller
# passes in.  Given a block of the allocator they would corrupt memory, so
# an archive that calls one cannot be linked with it.
HEAP_UNSAFE = {"reallocarray", "getline", "getdelim", "malloc_usable_size"}


def check_heap_safe(archive):
    """Exit if ``archive`` calls a function in HEAP_UNSAFE.

    Without nm (binutils), which every toolchain that builds the
    extensions has, the check is skipped with a warning.
    """
    try:
        out = subprocess.run(
            ["nm", "-P", "-u", archive], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"warning: nm could not list {archive} ({error}); not checking "
              "that libseccomp is safe with the allocator in csrc/heap")
        return
    called = {line.split()[0] for line in out.splitlines() if line.split()}
    unsafe = sorted(called & HEAP_UNSAFE)
    if unsafe:
        raise SystemExit(
            f"{archive} calls {', '.join(unsafe)}, which the allocator in "
            "csrc/heap does not wrap; add them to heap.c and HEAP_WRAP first"
        )


def libseccomp_options():
    """Return compile and link options for libseccomp."""
    static = os.environ.get("SECCOMPX_LIBSECCOMP_STATIC")
    include = os.environ.get("SECCOMPX_LIBSECCOMP_INCLUDE")
    if static:
        if not os.path.isfile(static):
            raise SystemExit(
                f"SECCOMPX_LIBSECCOMP_STATIC={static!r} is not a file; "
                "set it to the path of libseccomp.a or unset it"
            )
        include = include or archive_include_dir(static)
        check_heap_safe(static)
    cflags = ["-I" + include] if include else pkg_config("--cflags") or []
    if static:
        # Hide libseccomp's symbols so that the extension never binds to,
        # or exports, a second copy loaded by another module.
        ldflags = [static, "-Wl,--exclude-libs,ALL"] + HEAP_WRAP
        macros = [("SECCOMPX_STATIC_LIBSECCOMP", "1"), ("SECCOMPX_HEAP", "1")]
    else:
        ldflags = pkg_config("--libs") or ["-lseccomp"]
        macros = []
    return cflags, ldflags, macros


def archive_include_dir(archive):
    """Return PREFIX/include for PREFIX/lib/libseccomp.a, or None.

    Headers from a different release than the archive would compile calls
    the archive lacks, so a prefix built by tools/build-libseccomp.sh is
    preferred over the system headers.
    """
    prefix = os.path.dirname(os.path.dirname(os.path.abspath(archive)))
    include = os.path.join(prefix, "include")
    if os.path.isfile(os.path.join(include, "seccomp.h")):
        return include
    return None


def header_version(cflags):
    """Return "MAJOR.MINOR.MICRO" from the seccomp.h the build uses."""
    dirs = [flag[2:] for flag in cflags if flag.startswith("-I")]
    for folder in dirs + ["/usr/local/include", "/usr/include"]:
        path = os.path.join(folder, "seccomp.h")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as header:
                text = header.read()
            parts = [
                re.search(rf"#define\s+SCMP_VER_{part}\s+(\d+)", text)
                for part in ("MAJOR", "MINOR", "MICRO")
            ]
            if all(parts):
                return ".".join(match.group(1) for match in parts)
    raise SystemExit(
        "seccomp.h with SCMP_VER_MAJOR/MINOR/MICRO not found; set "
        "SECCOMPX_LIBSECCOMP_INCLUDE to the folder of libseccomp's headers"
    )


WARNINGS = ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
extra_cflags = shlex.split(os.environ.get("SECCOMPX_EXTRA_CFLAGS", ""))
extra_ldflags = shlex.split(os.environ.get("SECCOMPX_EXTRA_LDFLAGS", ""))
seccomp_cflags, seccomp_ldflags, seccomp_macros = libseccomp_options()


def sources(folder, suffix=".c"):
    return sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if name.endswith(suffix)
    )


# One extension module per folder of csrc/: name -> whether it links
# libseccomp.  _bpf and _sandbox run between fork and exec or on foreign
# programs and need only the kernel's headers.
# NOTE: in a static build every flagged extension gets its own private copy
# of libseccomp, so process-wide libseccomp state such as the API level set
# through seccomp_api_set() is not shared between them.
EXTENSIONS = {
    "core": True,
    "bpf": False,
    "sandbox": False,
    "notify": True,
    "bench": False,
}


def extension(name, links_libseccomp):
    folder = os.path.join("csrc", name)
    # Only PyInit_<name> is exported (PyMODINIT_FUNC marks it visible), so
    # helpers in different extensions never bind to each other.
    compile_args = WARNINGS + ["-fvisibility=hidden"] + extra_cflags
    link_args = list(extra_ldflags)
    macros = []
    extra_sources = []
    extra_depends = []
    if links_libseccomp:
        compile_args += seccomp_cflags
        link_args = seccomp_ldflags + link_args
        macros = seccomp_macros
        if os.environ.get("SECCOMPX_LIBSECCOMP_STATIC"):
            extra_sources = HEAP_SOURCES
            extra_depends = HEAP_HEADERS
    return Extension(
        f"seccompx._{name}",
        sources=sources(folder) + extra_sources,
        # Headers count as inputs, so editing one rebuilds the extension.
        depends=sources(folder, ".h") + sources("csrc", ".h") + extra_depends,
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

LIBSECCOMP_LICENSE = "licenses/libseccomp-LGPL-2.1.txt"
NOTICE_NAME = "LIBSECCOMP_NOTICE.txt"


class BuildExt(build_ext):
    """build_ext that rebuilds when options change and writes the notice.

    setuptools rebuilds an extension only when a source is newer than the
    built file, so switching between the shared and the static libseccomp
    (or changing SECCOMPX_EXTRA_CFLAGS) would reuse a stale module.  Each
    built file gets a record of its options next to the object files, and
    a different record forces a rebuild.
    """

    def build_extension(self, ext):
        output = self.get_ext_fullpath(ext.name)
        options = json.dumps(
            [
                os.path.abspath(output),
                ext.extra_compile_args,
                ext.extra_link_args,
                ext.define_macros,
            ]
        )
        record = os.path.join(self.build_temp, ext.name + ".options.json")
        saved_force = self.force
        if read_text(record) != options:
            self.force = True
        try:
            super().build_extension(ext)
        finally:
            self.force = saved_force
        os.makedirs(self.build_temp, exist_ok=True)
        with open(record, "w", encoding="utf-8") as file:
            file.write(options)

    def run(self):
        super().run()
        if not self.inplace:
            self.update_notice()

    def update_notice(self):
        """Write the libseccomp notice into a static build, else remove it.

        build_lib outlives a build, so a shared build must delete the
        notice that an earlier static build left there.
        """
        path = os.path.join(self.build_lib, "seccompx", NOTICE_NAME)
        if not STATIC:
            if os.path.exists(path):
                os.remove(path)
            return
        linked = sorted(
            ext.name for ext in self.extensions if ext_links_libseccomp(ext)
        )
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(notice_text(LIBSECCOMP_VERSION, linked))


def read_text(path):
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except FileNotFoundError:
        return None


def ext_links_libseccomp(ext):
    return EXTENSIONS.get(ext.name.rsplit("._", 1)[-1], False)


def notice_text(version, modules):
    return (
        f"This build of seccompx contains libseccomp {version}, linked\n"
        "statically into the extension modules that call it.  The build\n"
        f"linked {', '.join(modules)} against it.\n"
        "\n"
        "libseccomp is free software under the GNU Lesser General Public\n"
        "License, version 2.1.  The licence text is in this wheel's\n"
        f".dist-info/licenses/{LIBSECCOMP_LICENSE}.\n"
        f"The upstream source of libseccomp {version} is at\n"
        f"https://github.com/seccomp/libseccomp/releases/tag/v{version}\n"
        "and seccompx's own source, to rebuild it against another\n"
        "libseccomp, is the seccompx sdist.\n"
    )


STATIC = bool(os.environ.get("SECCOMPX_LIBSECCOMP_STATIC"))
LIBSECCOMP_VERSION = header_version(seccomp_cflags) if STATIC else None

setup(
    ext_modules=extensions,
    cmdclass={"build_ext": BuildExt},
    # A static build distributes libseccomp's LGPL-2.1 code as well.
    license_expression="MIT AND LGPL-2.1-only" if STATIC else "MIT",
    license_files=["LICENSE", LIBSECCOMP_LICENSE] if STATIC else ["LICENSE"],
)
