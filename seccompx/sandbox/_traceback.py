"""Tracebacks of a sandboxed child's exceptions, captured without file access.

Formatting a traceback reads the source line of each frame through
:mod:`linecache`, which stats and opens the source files.  Under a filter
that forbids those syscalls, the child would be killed while it reports its
exception.  So the child records only what needs no syscall: file names,
line numbers, function names and the formatted exception lines.  The
parent, a fork of the same process with the same files, reads the source
lines when it formats the traceback.
"""

from __future__ import annotations

import linecache
import sys
import traceback
from typing import Any, Dict, Generator, List, NamedTuple, Optional, Tuple

# filename, lineno, name, end_lineno, colno, end_colno (the last three are
# None before Python 3.11).
_Frame = Tuple[
    str, Optional[int], str, Optional[int], Optional[int], Optional[int]
]


class _ExceptionRecord(NamedTuple):
    """One exception of a chain or group, as the child captured it.

    ``cause``, ``context`` and ``exceptions`` are indexes into the tuple of
    records that :func:`capture` returns (-1 for none).  A flat tuple keeps
    long chains from exceeding pickle's recursion limit.
    """

    header: Tuple[str, ...]  # the lines of format_exception_only()
    frames: Tuple[_Frame, ...]
    cause: int
    context: int
    suppress_context: bool
    exceptions: Optional[Tuple[int, ...]]  # members of an exception group


def capture(exc: BaseException) -> Tuple[_ExceptionRecord, ...]:
    """Record the traceback of ``exc`` and of its chain without syscalls.

    The first record is ``exc`` itself.
    """
    # linecache.checkcache() stats every file the cache already contains,
    # for example from a traceback printed before the fork.  The child's
    # cache is a copy of its own, so emptying it changes nothing in the
    # parent.  New entries made below are lazy and read nothing.
    linecache.cache.clear()
    root = traceback.TracebackException(
        type(exc), exc, exc.__traceback__, lookup_lines=False
    )
    nodes = [root]
    positions = {id(root): 0}
    # The loop visits the nodes it appends, so every node comes after the
    # one that links to it.
    for node in nodes:
        for linked in _links(node):
            if id(linked) not in positions:
                positions[id(linked)] = len(nodes)
                nodes.append(linked)
    return tuple(_record(node, positions) for node in nodes)


def _links(
    node: traceback.TracebackException,
) -> List[traceback.TracebackException]:
    linked = [node.__cause__, node.__context__]
    linked += getattr(node, "exceptions", None) or []
    return [item for item in linked if item is not None]


def _record(
    node: traceback.TracebackException, positions: Dict[int, int]
) -> _ExceptionRecord:
    members = getattr(node, "exceptions", None)
    return _ExceptionRecord(
        header=tuple(node.format_exception_only()),
        frames=tuple(_frame(summary) for summary in node.stack),
        cause=_position(node.__cause__, positions),
        context=_position(node.__context__, positions),
        suppress_context=bool(node.__suppress_context__),
        exceptions=(
            None
            if members is None
            else tuple(positions[id(member)] for member in members)
        ),
    )


def _frame(summary: traceback.FrameSummary) -> _Frame:
    return (
        summary.filename,
        summary.lineno,
        summary.name,
        getattr(summary, "end_lineno", None),
        getattr(summary, "colno", None),
        getattr(summary, "end_colno", None),
    )


def _position(
    node: Optional[traceback.TracebackException], positions: Dict[int, int]
) -> int:
    return -1 if node is None else positions[id(node)]


class _RecordedException(traceback.TracebackException):
    """A TracebackException rebuilt in the parent from a child's record.

    The stack is the child's, and the parent reads its source lines when
    it formats it.  The exception lines are the ones the child formatted,
    because the exception itself may not have crossed over.
    """

    def __init__(self, record: _ExceptionRecord) -> None:
        # No exception: the stack and the lines come from the record.
        super().__init__(
            None, None, None, lookup_lines=False  # type: ignore[arg-type]
        )
        self._child_header = record.header
        self.stack = traceback.StackSummary.from_list(
            [_summary(frame) for frame in record.frames]
        )
        self.__suppress_context__ = record.suppress_context

    def format_exception_only(
        self, *args: Any, **kwargs: Any
    ) -> Generator[str, None, None]:
        yield from self._child_header


def _summary(frame: _Frame) -> traceback.FrameSummary:
    filename, lineno, name, end_lineno, colno, end_colno = frame
    if sys.version_info >= (3, 11):
        return traceback.FrameSummary(
            filename,
            lineno,
            name,
            lookup_line=False,
            end_lineno=end_lineno,
            colno=colno,
            end_colno=end_colno,
        )
    return traceback.FrameSummary(filename, lineno, name, lookup_line=False)


def render(records: Tuple[_ExceptionRecord, ...]) -> str:
    """Format the records of :func:`capture` as Python prints a traceback.

    A link that does not point to a later record is dropped, so that a
    malformed message cannot make the formatting loop forever.
    """
    if not records:
        return ""
    nodes = [_RecordedException(record) for record in records]

    def linked(own: int, index: int) -> Optional[_RecordedException]:
        return nodes[index] if own < index < len(nodes) else None

    for own, (node, record) in enumerate(zip(nodes, records)):
        node.__cause__ = linked(own, record.cause)
        node.__context__ = linked(own, record.context)
        if record.exceptions is not None:
            members = [linked(own, index) for index in record.exceptions]
            node.exceptions = [item for item in members if item is not None]
    return "".join(nodes[0].format())
