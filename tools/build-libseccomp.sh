#!/bin/sh
# Build the pinned libseccomp release as a static, position-independent
# archive for the seccompx wheels.  cibuildwheel runs this once in each
# manylinux or musllinux container (before-all); it also works on Debian.
#
# Usage: tools/build-libseccomp.sh PREFIX
#
# Installs PREFIX/lib/libseccomp.a and PREFIX/include/seccomp.h.  Set
# LIBSECCOMP_TARBALL to the path of the release tarball to build from a
# local copy instead of downloading it.  Either way the tarball must match
# the pinned sha256, or the script stops before unpacking it.
set -eu

VERSION=2.6.0
# sha256 of libseccomp-2.6.0.tar.gz as published on the upstream release
# page; Debian's libseccomp_2.6.0.orig.tar.gz is the same file.
SHA256=83b6085232d1588c379dc9b9cae47bb37407cf262e6e74993c61ba72d2a784dc
URL="https://github.com/seccomp/libseccomp/releases/download/v$VERSION/libseccomp-$VERSION.tar.gz"

if [ "$#" -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
PREFIX=$1

# The release's configure step needs gperf to generate the syscall table,
# and the build needs the kernel's uapi headers (linux-headers on Alpine).
install_build_tools() {
    need=""
    command -v gperf >/dev/null 2>&1 || need="gperf"
    if [ ! -f /usr/include/linux/seccomp.h ]; then
        need="$need kernel-headers"
    fi
    [ -n "$need" ] || return 0

    if command -v apk >/dev/null 2>&1; then
        apk add --no-cache gperf linux-headers
    elif command -v dnf >/dev/null 2>&1; then
        # AlmaLinux 8 (manylinux_2_28) ships gperf in AppStream; later
        # releases moved it to the CRB repository.
        dnf install -y gperf kernel-headers ||
            dnf install -y --enablerepo=crb gperf kernel-headers
    elif command -v yum >/dev/null 2>&1; then
        yum install -y gperf kernel-headers
    elif command -v apt-get >/dev/null 2>&1; then
        # Only what is missing: naming an installed package would upgrade it.
        packages=""
        case "$need" in *gperf*) packages="gperf" ;; esac
        case "$need" in *kernel-headers*) packages="$packages linux-libc-dev" ;; esac
        # shellcheck disable=SC2086 # one word per package
        apt-get install -y --no-upgrade $packages
    else
        echo "$0: install gperf and the Linux uapi headers, then rerun" >&2
        exit 1
    fi
}

fetch_tarball() {
    if [ -n "${LIBSECCOMP_TARBALL:-}" ]; then
        cp "$LIBSECCOMP_TARBALL" "$1"
    elif command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$1" "$URL"
    else
        wget -q -O "$1" "$URL"
    fi
}

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
tarball="$workdir/libseccomp-$VERSION.tar.gz"

fetch_tarball "$tarball"
if ! echo "$SHA256  $tarball" | sha256sum -c - >/dev/null 2>&1; then
    echo "$0: ${LIBSECCOMP_TARBALL:-$URL} does not match the pinned" \
        "sha256 $SHA256; use the libseccomp-$VERSION release tarball" >&2
    exit 1
fi

install_build_tools
tar -xzf "$tarball" -C "$workdir"
cd "$workdir/libseccomp-$VERSION"
# --with-pic alone covers libtool's objects; -fPIC in CFLAGS also covers
# toolchains whose libtool ignores it for static-only builds.
./configure --prefix="$PREFIX" --libdir="$PREFIX/lib" \
    --disable-shared --enable-static \
    --with-pic --disable-python CFLAGS="-O2 -fPIC ${CFLAGS:-}"
make -j"$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
make install

test -f "$PREFIX/lib/libseccomp.a"
echo "libseccomp $VERSION installed in $PREFIX"
