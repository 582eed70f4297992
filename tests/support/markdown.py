"""What a Streamlit Markdown string shows: backslash escapes undone, markup found.

Pages escape text that quotes user input (:func:`journey_ui.components.plain`); tests compare
what the user reads, so they undo the escapes first (which also finds an escaped email).

>>> displayed(r"No individual has the email ann\\@x\\.io")
'No individual has the email ann@x.io'
>>> markup(r"**Email**: \\![x](http://h/i.png) ![y](http://h/i.png) <b>z</b>")
['a', 'img', 'b']
"""

from __future__ import annotations

import re
import string

from markdown_it import MarkdownIt

__all__ = ["displayed", "markup"]

_ESCAPE = re.compile("\\\\([" + re.escape(string.punctuation) + "])")
_MD = MarkdownIt("commonmark")
_TEXT_TAGS = frozenset({"p", "strong", "em", "code", "br"})


def displayed(markdown: str) -> str:
    """``markdown`` with its backslash escapes undone (the characters the user sees)."""
    return _ESCAPE.sub(r"\1", markdown)


def markup(markdown: str) -> list[str]:
    """The tags ``markdown`` renders to (CommonMark) besides text styles: links, images, HTML."""
    tags = re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", _MD.render(markdown))
    return [tag for tag in tags if tag not in _TEXT_TAGS]
