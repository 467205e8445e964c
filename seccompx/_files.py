"""Replacing a file atomically, through a temporary file in its folder.

``seccompx convert -o``, ``seccompx trace -o`` and
:func:`seccompx.kubernetes.write_localhost_profile` write their files this
way, so that a reader never sees half a file.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from typing import Optional, Tuple

# Attempts at an unused temporary name.  With 64 random bits a clash is rare.
_TEMPORARY_ATTEMPTS = 100


def replace_file(
    path: str,
    data: bytes,
    *,
    like: Optional[os.stat_result] = None,
    mode: Optional[int] = None,
) -> None:
    """Write ``data`` to a new file next to ``path`` and rename it over ``path``.

    The new file gets the owner, group and permission bits of ``like``,
    the file it replaces, as far as this process may set them.  Without
    ``like`` it gets the permission bits ``mode``, and without either
    the bits that the umask leaves of 0o666, as a plain open() would.
    Any failure removes the temporary file and leaves ``path`` as it was.
    """
    folder, name = os.path.split(path)
    fd, temporary = _create_temporary(folder or ".", name)
    try:
        try:
            if like is not None:
                _copy_owner_and_mode(fd, like)
            elif mode is not None:
                os.fchmod(fd, mode)
            write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``; raise OSError if that fails."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if not written:
            raise OSError(
                errno.EIO, f"the file accepted none of the last {len(view)} bytes"
            )
        view = view[written:]


def _create_temporary(folder: str, name: str) -> Tuple[int, str]:
    """Create a new file with an unpredictable name in ``folder``.

    O_EXCL makes the kernel fail rather than follow a symlink or open a
    file that someone else placed under that name.  Mode 0o666 lets the
    umask and the folder's default ACL set the permissions, as a plain
    open() of a new file would.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOCTTY | os.O_CLOEXEC
    for _ in range(_TEMPORARY_ATTEMPTS):
        # The name is cut to 64 characters to stay under NAME_MAX (255).
        temporary = os.path.join(folder, f".{name[:64]}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"no unused temporary file name found in {folder!r}")


def _copy_owner_and_mode(fd: int, existing: os.stat_result) -> None:
    """Give the temporary file the owner, group and permissions of the file it replaces."""
    try:
        os.fchown(fd, existing.st_uid, existing.st_gid)
    except PermissionError:
        pass  # Only root may give a file to another user.
    # Permission bits only: set-user-ID and set-group-ID are not carried
    # over to new contents.
    os.fchmod(fd, stat.S_IMODE(existing.st_mode) & 0o777)
