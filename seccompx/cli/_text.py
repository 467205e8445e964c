"""Text from users and profiles, made safe to print on a terminal."""

from __future__ import annotations


def printable(text: str) -> str:
    """Escape control and other unprintable characters as repr() does.

    A NUL becomes ``\\x00``, a newline ``\\n`` and a lone surrogate
    ``\\udc80``, so a name or path from a profile cannot send control
    sequences to the terminal or split a line.  Printable characters,
    backslashes included, pass unchanged: messages that already contain
    repr() output are not escaped twice, and applying this again changes
    nothing.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
