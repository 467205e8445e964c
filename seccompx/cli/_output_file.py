"""The file that ``-o FILE`` names, written as a shell's ``>`` would.

``convert`` and ``trace`` share these helpers, so that ``-o`` means the same
in both.  ``-`` is standard output.  A FIFO, a device or a path into /proc
(/dev/stdout) is written directly, and a symlink is followed.  A regular
or new file is replaced atomically through a temporary file in the same
folder.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from typing import Optional, Tuple

from ._output import write_bytes

# Attempts at an unused temporary name.  With 64 random bits a clash is rare.
_TEMPORARY_ATTEMPTS = 100


def output_problem(output: str) -> Optional[str]:
    """Return why ``output`` cannot be written, or None if it can.

    Meant to run before the work that produces the output, so that the
    work is not wasted.  The write itself can still fail.
    """
    if output == "-":
        return None
    if os.path.isdir(output):
        return f"-o {output!r} is a directory; give a file name"
    if _names_open_file(output):
        if not os.access(output, os.W_OK):
            return f"-o {output!r} is not writable"
        return None
    folder = os.path.dirname(os.path.realpath(output))
    if not os.path.isdir(folder):
        return f"the folder {folder!r} of -o {output!r} does not exist"
    try:
        status: Optional[os.stat_result] = os.stat(output)
    except FileNotFoundError:
        status = None  # a new file, or a symlink to one
    except OSError as error:
        return f"cannot look up -o {output!r}: {error.strerror}"
    if status is not None and not os.access(output, os.W_OK):
        return f"-o {output!r} is not writable"
    if status is None or stat.S_ISREG(status.st_mode):
        if not os.access(folder, os.W_OK | os.X_OK):
            return (
                f"the folder {folder!r} of -o {output!r} is not writable; "
                "the file is written there under a temporary name first"
            )
    return None


def write_output(output: str, data: bytes) -> None:
    """Write ``data`` to standard output for ``-``, else to the file ``output``.

    Raises OSError when the write fails.  A failure leaves a regular file
    as it was and removes the temporary file.
    """
    if output == "-":
        write_bytes(data)
        return

    if _names_open_file(output):
        # Renaming over /dev/stdout's target would cut the file loose from
        # the descriptor that names it, or create a file named after a
        # deleted one, so the file is truncated and written as `>` would.
        fd = os.open(output, os.O_WRONLY | os.O_TRUNC | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        return

    # Opening through the kernel, rather than inspecting the path first,
    # follows a symlink under the kernel's rules (fs.protected_symlinks)
    # and finds the type of the very file that will be written.
    try:
        fd = os.open(output, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        existing = None  # a new file, or a symlink to one
    else:
        try:
            existing = os.fstat(fd)
            if not stat.S_ISREG(existing.st_mode):
                # A FIFO or device is not renamed over, because its reader
                # or driver is what the user wants to reach.
                _write_all(fd, data)
                return
        finally:
            os.close(fd)
    # NOTE: a symlink to a file that does not exist yet is resolved here
    # with realpath(), outside the kernel's fs.protected_symlinks check.
    _replace(os.path.realpath(output), data, existing)


def _names_open_file(path: str) -> bool:
    """Return whether ``path`` leads into /proc, as /dev/stdout and /dev/fd/N do."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's limit on symlinks in one lookup
        folder = os.path.realpath(os.path.dirname(current))
        if folder == "/proc" or folder.startswith("/proc/"):
            return True
        if not os.path.islink(current):
            return False
        current = os.path.join(folder, os.readlink(current))
    return False


def _replace(path: str, data: bytes, existing: Optional[os.stat_result]) -> None:
    """Write ``data`` to a temporary file next to ``path`` and rename it over."""
    folder, name = os.path.split(path)
    fd, temporary = _create_temporary(folder, name)
    try:
        try:
            if existing is not None:
                _copy_owner_and_mode(fd, existing)
            _write_all(fd, data)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if not written:
            raise OSError(
                errno.EIO, f"the file accepted none of the last {len(view)} bytes"
            )
        view = view[written:]
