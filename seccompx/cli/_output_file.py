"""The file that ``-o FILE`` names, written as a shell's ``>`` would.

``convert`` and ``trace`` share these helpers, so that ``-o`` means the same
in both.  ``-`` is standard output.  A FIFO, a device or a path into /proc
(/dev/stdout) is written directly, and a symlink is followed.  A regular
or new file is replaced atomically through a temporary file in the same
folder.
"""

from __future__ import annotations

import os
import stat
from typing import Optional

from .._files import replace_file, write_all
from ._output import write_bytes


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
            write_all(fd, data)
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
                write_all(fd, data)
                return
        finally:
            os.close(fd)
    # NOTE: a symlink to a file that does not exist yet is resolved here
    # with realpath(), outside the kernel's fs.protected_symlinks check.
    replace_file(os.path.realpath(output), data, like=existing)


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
