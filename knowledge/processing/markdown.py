"""Markdown to plain text, line by line: the words stay, the markup goes.

Deliberately simple (no Markdown parser): good enough to index and search a document, not
a faithful renderer. Spans are bounded in length so that no input makes the patterns slow.
"""

from __future__ import annotations

import html
import re

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_RULE = re.compile(r" {0,3}(?:=+|-+|(?:[-*_][ \t]*){3,})[ \t]*")  # also setext underlines
_LINK_DEFINITION = re.compile(r" {0,3}\[[^\]]{1,500}\]:[ \t]*\S.*")
_BLOCKQUOTE = re.compile(r"^ {0,3}(?:>[ \t]?)+")
_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+|$)")
_HEADING_CLOSE = re.compile(r"[ \t]+#+[ \t]*$")
_LIST_ITEM = re.compile(r"^([ \t]*)(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
_TABLE_RULE_CHARS = frozenset("|:- \t")

# A link's target: "(url)" (one level of parentheses inside, and an optional title) or "[ref]".
_TARGET = r"(?:\((?:[^()\s]|\([^()\s]{0,500}\)){0,2000}(?:\s[^)]{0,500})?\)|\[[^\]]{0,500}\])"
_CODE_SPAN = re.compile(r"(`+)(.{1,2000}?)\1")
_INLINE = [
    (re.compile(r"<!--.*?-->"), ""),
    (re.compile(rf"!\[([^\]]{{0,500}})\]{_TARGET}"), r"\1"),
    (re.compile(rf"\[([^\]]{{1,500}})\]{_TARGET}"), r"\1"),
    (re.compile(r"<((?:https?|ftp|mailto):[^>\s]{1,2000})>"), r"\1"),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,50}(?:\s[^<>]{0,1000})?/?>"), ""),
    (re.compile(r"(\*{1,3})(?=\S)(.{1,1000}?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(\*{1,3})(?=\S)(.{1,1000}?)(?<=\S)\1"), r"\2"),  # once more for nesting
    (re.compile(r"(?<![\w\\])(_{1,3})(?=\S)(.{1,1000}?)(?<=\S)\1(?!\w)"), r"\2"),
    (re.compile(r"~~(?=\S)(.{1,1000}?)(?<=\S)~~"), r"\1"),
]
# Backslash-escaped punctuation is hidden in private-use characters while the patterns run.
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_HIDDEN_BASE = 0xE000
_UNHIDE = {_HIDDEN_BASE + code: chr(code) for code in range(0x21, 0x7F)}


class MarkdownStripper:
    """Feed Markdown in pieces of any size; get plain text back as whole lines complete."""

    def __init__(self) -> None:
        self._partial_line = ""
        self._open_fence: str | None = None

    def feed(self, text: str) -> str:
        lines = (self._partial_line + text).split("\n")
        self._partial_line = lines.pop()
        return "".join(
            stripped + "\n" for stripped in map(self._strip_line, lines) if stripped is not None
        )

    def close(self) -> str:
        last, self._partial_line = self._partial_line, ""
        stripped = self._strip_line(last) if last else None
        return stripped or ""

    def _strip_line(self, line: str) -> str | None:
        """The line's plain text, or None when the line is markup only."""
        fence = _FENCE.fullmatch(line)
        if self._open_fence is not None:
            if fence and _closes(fence, self._open_fence):
                self._open_fence = None
                return None
            return line
        if fence and "`" not in fence.group(2):
            self._open_fence = fence.group(1)
            return None
        if _RULE.fullmatch(line) or _LINK_DEFINITION.fullmatch(line):
            return None
        line = _BLOCKQUOTE.sub("", line, count=1)
        if "|" in line and "-" in line and set(line) <= _TABLE_RULE_CHARS:
            return None
        if _HEADING.match(line):
            line = _HEADING_CLOSE.sub("", _HEADING.sub("", line, count=1))
        else:
            line = _LIST_ITEM.sub(r"\1", line, count=1)
        if line.lstrip().startswith("|"):
            line = "\t".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        return _strip_inline(line)


def _closes(fence: re.Match[str], opening: str) -> bool:
    marker = fence.group(1)
    return marker[0] == opening[0] and len(marker) >= len(opening) and not fence.group(2).strip()


def _strip_inline(line: str) -> str:
    # Code spans keep their content verbatim; only the text between them loses its markup.
    parts = []
    position = 0
    for span in _CODE_SPAN.finditer(line):
        parts.append(_strip_markup(line[position : span.start()]))
        parts.append(span.group(2).strip(" ") or span.group(2))
        position = span.end()
    parts.append(_strip_markup(line[position:]))
    return "".join(parts)


def _strip_markup(text: str) -> str:
    text = _ESCAPE.sub(lambda escape: chr(_HIDDEN_BASE + ord(escape.group(1))), text)
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return html.unescape(text).translate(_UNHIDE)
