"""Standard output that is written in full or fails with BrokenPipeError.

CPython's BufferedWriter.write() (checked on 3.11) returns a short count,
without an error, when the reader of a pipe closes it during one large
write(2).  TextIOWrapper, and so print(), ignores that count, so a large
output could end cut off with exit status 0.  These helpers write the rest
again until all of it is written, and that next write raises
BrokenPipeError, which main() turns into exit status 141.
"""

from __future__ import annotations

import errno
import sys


def write_bytes(data: bytes) -> None:
    """Write ``data`` to the binary buffer of sys.stdout, all of it.

    Does nothing when sys.stdout is None (the command started with standard
    output closed), because the output then goes nowhere.
    """
    stdout = sys.stdout
    if stdout is None:
        return

    stdout.flush()  # text printed before stays before these bytes
    buffer = stdout.buffer
    view = memoryview(data)
    while view:
        written = buffer.write(view)
        if not written:
            raise OSError(
                errno.EAGAIN,
                f"standard output accepted none of the last {len(view)} "
                "bytes; use a blocking standard output",
            )
        view = view[written:]
    buffer.flush()


def write_text(text: str) -> None:
    """Write ``text`` to sys.stdout, all of it, as print(text, end="") would.

    A stream without a binary buffer, such as io.StringIO under
    contextlib.redirect_stdout(), gets the text with its own write().
    """
    stdout = sys.stdout
    if stdout is None:
        return

    buffer = getattr(stdout, "buffer", None)
    if buffer is None:
        stdout.write(text)
        return
    write_bytes(text.encode(stdout.encoding, stdout.errors or "strict"))
