"""A griffe extension that turns the docstrings' reST markup into Markdown.

The docstrings of seccompx use Sphinx roles (``:class:`Filter```,
``:meth:`~seccompx.Filter.load```) and ``::`` before literal blocks, which
mkdocstrings would show verbatim.  A role becomes inline code; with ``~``
only the last dotted component is kept, as Sphinx shows it.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(
    r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):`(~?)([^`]+)`"
)
# A paragraph that ends with "::" introduces a literal block in reST.
_LITERAL_MARKER = re.compile(r"(\S)::$", re.MULTILINE)


def _role_to_code(match: "re.Match[str]") -> str:
    short, target = match.groups()
    text = target.rsplit(".", 1)[-1] if short else target
    return f"`{text}`"


def convert(text: str) -> str:
    """Return ``text`` with Sphinx roles and ``::`` markers replaced."""
    text = _ROLE.sub(_role_to_code, text)
    return _LITERAL_MARKER.sub(r"\1:", text)


class RstRoles(griffe.Extension):
    """Rewrite every docstring once griffe has loaded its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
