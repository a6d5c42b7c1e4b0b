"""Safe, faithful XML: parse with defusedxml, write back every prefix, comment and PI.

Parsing goes through defusedxml's parser with DTDs forbidden outright, so entity
expansion ("billion laughs"), external entities and external DTDs are refused before
anything is expanded or fetched; nesting deeper than :data:`MAX_DEPTH` is refused too.

The tree is a plain :mod:`xml.etree.ElementTree` tree. ElementTree's own writer renames
namespace prefixes (``ns0:``) and drops comments outside the root, so this module keeps,
per element, the namespace declarations the input made there, plus the XML declaration
and the comments/processing instructions around the root, and writes them back as they
were. Elements bomguard adds use whatever prefix is in scope for their namespace.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from defusedxml import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
)
from defusedxml.ElementTree import DefusedXMLParser

from bomguard.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "XML_NS",
    "XmlTree",
    "insert_pretty",
    "iter_elements",
    "local_name",
    "namespace_of",
    "parse_xml",
    "remove_child",
    "serialize_xml",
    "walk_with_parents",
    "whitespace_before",
]

XML_NS = "http://www.w3.org/XML/1998/namespace"
#: Deepest element nesting accepted. RDF/XML nests a node per dependency hop (about four
#: levels each), so this is more generous than the JSON limit; writing stays recursive
#: well within Python's stack at this depth.
MAX_DEPTH = 512
_DECLARATION = re.compile(rb"^\s*(<\?xml\s[^?]*\?>)")
_ENCODING = re.compile(r"""encoding\s*=\s*(["'])([^"']*)\1""")


@dataclass
class XmlTree:
    """A parsed XML document: the root element plus what ElementTree would forget."""

    root: ET.Element
    declaration: str | None = None
    prolog: list[ET.Element[Any]] = field(default_factory=list)
    epilog: list[ET.Element[Any]] = field(default_factory=list)
    nsdecls: dict[ET.Element, list[tuple[str, str]]] = field(default_factory=dict)
    """The ``xmlns`` declarations each element carried in the input, in order."""

    def namespaces_in_scope(self, path: list[ET.Element]) -> dict[str, str]:
        """Prefix → URI in scope at the last element of ``path`` (root first)."""
        scope: dict[str, str] = {}
        for element in path:
            scope.update(self.nsdecls.get(element, ()))
        return scope


class _TooDeep(Exception):
    pass


class _Builder:
    """An ElementTree target that also records namespace declarations and the prolog."""

    def __init__(self) -> None:
        self.stack: list[ET.Element] = []
        self.root: ET.Element | None = None
        self.prolog: list[ET.Element[Any]] = []
        self.epilog: list[ET.Element[Any]] = []
        self.nsdecls: dict[ET.Element, list[tuple[str, str]]] = {}
        self._pending_ns: list[tuple[str, str]] = []
        self._data: list[str] = []
        self._last: ET.Element[Any] | None = None
        self._tail = False

    def _flush(self) -> None:
        if not self._data:
            return
        text = "".join(self._data)
        self._data = []
        if self._last is None or (not self.stack and self._tail):
            return  # whitespace around the root element
        if self._tail:
            self._last.tail = text
        else:
            self._last.text = text

    def _append(self, element: ET.Element[Any]) -> None:
        if self.stack:
            self.stack[-1].append(element)
        elif self.root is None:
            self.prolog.append(element)
        else:
            self.epilog.append(element)

    def start_ns(self, prefix: str, uri: str) -> None:
        self._pending_ns.append((prefix or "", uri))

    def start(self, tag: str, attrib: dict[str, str]) -> ET.Element:
        if len(self.stack) >= MAX_DEPTH:
            raise _TooDeep
        self._flush()
        element = ET.Element(tag, attrib)
        if self._pending_ns:
            self.nsdecls[element] = self._pending_ns
            self._pending_ns = []
        if self.root is None and not self.stack:
            self.root = element
        else:
            self._append(element)
        self.stack.append(element)
        self._last, self._tail = element, False
        return element

    def end(self, tag: str) -> ET.Element:
        self._flush()
        element = self.stack.pop()
        self._last, self._tail = element, True
        return element

    def data(self, data: str) -> None:
        self._data.append(data)

    def comment(self, text: str) -> None:
        self._flush()
        element = ET.Comment(text)
        self._append(element)
        if self.stack:
            self._last, self._tail = element, True

    def pi(self, target: str, text: str | None = None) -> None:
        self._flush()
        element = ET.ProcessingInstruction(target, text)
        self._append(element)
        if self.stack:
            self._last, self._tail = element, True

    def close(self) -> ET.Element | None:
        self._flush()
        return self.root


def parse_xml(raw: bytes, label: str) -> XmlTree:
    """Parse ``raw`` safely; raise :class:`InputError` with the line and column of a problem."""
    builder = _Builder()
    parser = DefusedXMLParser(
        target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    expat = parser.parser

    def where() -> str:
        return f"line {expat.CurrentLineNumber} column {expat.CurrentColumnNumber + 1}"

    try:
        parser.feed(raw)
        root = parser.close()
    except ET.ParseError as err:
        line, column = err.position
        message = str(err).split(":", 1)[0]
        raise InputError(f"{label}: line {line} column {column + 1}: {message}") from err
    except DefusedXmlException as err:
        if isinstance(err, DTDForbidden):
            what = f"a DTD (<!DOCTYPE {err.name}>)"
        elif isinstance(err, EntitiesForbidden):
            what = f"an entity declaration ({err.name})"
        else:
            what = "an external entity reference"
        raise InputError(
            f"{label}: {where()}: {what} is not allowed in an SBOM "
            "(no entity expansion, no external entities)"
        ) from err
    except _TooDeep as err:
        raise InputError(f"{label}: {where()}: elements nested more than {MAX_DEPTH} deep") from err
    if root is None:  # pragma: no cover - expat reports "no element found" first
        raise InputError(f"{label}: no root element")
    match = _DECLARATION.match(raw.removeprefix(b"\xef\xbb\xbf"))
    declaration = match.group(1).decode("utf-8", "replace") if match else None
    if declaration is not None:
        encoding = _ENCODING.search(declaration)
        if encoding and encoding.group(2).lower().replace("-", "") != "utf8":
            # The output is always UTF-8; say so rather than keep a stale encoding name.
            declaration = _ENCODING.sub('encoding="UTF-8"', declaration)
    return XmlTree(root, declaration, builder.prolog, builder.epilog, builder.nsdecls)


def namespace_of(tag: str) -> str:
    """``{uri}local`` → ``uri`` (``""`` for no namespace)."""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def local_name(tag: str) -> str:
    """``{uri}local`` → ``local``."""
    return tag.rsplit("}", 1)[-1]


def iter_elements(parent: ET.Element) -> Iterator[ET.Element]:
    """The element children of ``parent`` (no comments or processing instructions)."""
    return (c for c in parent if isinstance(c.tag, str))


# -- editing ----------------------------------------------------------------------------


def _indent_of(parent: ET.Element, parent_ws: str | None) -> tuple[str, str, str]:
    """``(before a child, before parent's end tag, one indentation step)`` for ``parent``."""
    base = parent_ws if parent_ws is not None and parent_ws.startswith("\n") else None
    if len(parent) and parent.text is not None and not parent.text.strip():
        child_ws = parent.text
        last_tail = parent[-1].tail
        end_ws = last_tail if last_tail is not None and not last_tail.strip() else ""
        step = "  "
        if base is not None and child_ws.startswith(base) and len(child_ws) > len(base):
            step = child_ws[len(base) :]
        return child_ws, end_ws, step
    if base is None:
        return "", "", ""
    return base + "  ", base, "  "


def insert_pretty(
    parent: ET.Element,
    index: int,
    child: ET.Element,
    parent_ws: str | None,
) -> None:
    """Insert ``child`` at ``index`` of ``parent`` (all nodes counted), indented like its
    siblings.

    ``parent_ws`` is the whitespace before ``parent``'s own start tag (how deep it is
    indented), used when ``parent`` has no children yet. ``child``'s own subtree is
    indented one step deeper than ``child``.
    """
    child_ws, end_ws, step = _indent_of(parent, parent_ws)
    _indent_subtree(child, child_ws, step)
    if not len(parent):
        if parent.text is None or not parent.text.strip():
            parent.text = child_ws
        child.tail = end_ws
        parent.append(child)
        return
    if index <= 0:
        child.tail = parent.text if parent.text is not None and not parent.text.strip() else ""
        parent.text = child_ws
        parent.insert(0, child)
        return
    index = min(index, len(parent))
    before = parent[index - 1]
    child.tail = before.tail
    before.tail = child_ws
    parent.insert(index, child)


def remove_child(parent: ET.Element, child: ET.Element) -> None:
    """Remove ``child``, keeping the whitespace around its siblings as it was."""
    index = list(parent).index(child)
    if index > 0:
        parent[index - 1].tail = child.tail
    parent.remove(child)


def whitespace_before(parent: ET.Element, index: int) -> str | None:
    """The whitespace before ``parent``'s child at ``index`` (``None`` if it is not all space)."""
    text = parent.text if index == 0 else parent[index - 1].tail
    return text if text is not None and not text.strip() else None


def _indent_subtree(element: ET.Element, element_ws: str, step: str) -> None:
    if not len(element) or not element_ws.startswith("\n"):
        return
    inner = element_ws + step
    element.text = inner
    children = list(element)
    for i, sub in enumerate(children):
        _indent_subtree(sub, inner, step)
        sub.tail = inner if i < len(children) - 1 else element_ws


# -- writing ----------------------------------------------------------------------------


def _escape_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _escape_attr(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
        .replace("\n", "&#10;")
        .replace("\t", "&#9;")
    )


class _Writer:
    def __init__(self, tree: XmlTree) -> None:
        self.tree = tree
        self.out: list[str] = []
        self.counter = 0

    def _prefix_for(
        self, uri: str, scope: dict[str, str], new: list[tuple[str, str]], *, attribute: bool
    ) -> str:
        if uri == XML_NS:
            return "xml"
        if not attribute and scope.get("") == uri:
            return ""
        for prefix in reversed(list(scope)):
            if prefix and scope[prefix] == uri:
                return prefix
        while True:
            self.counter += 1
            prefix = f"ns{self.counter}"
            if prefix not in scope:
                break
        scope[prefix] = uri
        new.append((prefix, uri))
        return prefix

    def _qname(
        self, name: str, scope: dict[str, str], new: list[tuple[str, str]], *, attribute: bool
    ) -> str:
        if not name.startswith("{"):
            if not attribute and scope.get(""):
                scope[""] = ""
                new.append(("", ""))
            return name
        uri, local = name[1:].split("}", 1)
        prefix = self._prefix_for(uri, scope, new, attribute=attribute)
        return f"{prefix}:{local}" if prefix else local

    def element(self, element: ET.Element[Any], scope: dict[str, str]) -> None:
        out = self.out
        tag = element.tag
        if tag is ET.Comment:
            out.append(f"<!--{element.text or ''}-->")
        elif tag is ET.ProcessingInstruction:
            out.append(f"<?{element.text or ''}?>")
        else:
            declared = list(self.tree.nsdecls.get(element, ()))
            scope = {**scope, **dict(declared)}
            new: list[tuple[str, str]] = []
            qname = self._qname(str(tag), scope, new, attribute=False)
            attrs = [
                (self._qname(k, scope, new, attribute=True), v) for k, v in element.attrib.items()
            ]
            out.append(f"<{qname}")
            for prefix, uri in [*declared, *new]:
                name = f"xmlns:{prefix}" if prefix else "xmlns"
                out.append(f' {name}="{_escape_attr(uri)}"')
            for key, value in attrs:
                out.append(f' {key}="{_escape_attr(value)}"')
            if element.text is None and not len(element):
                out.append("/>")
            else:
                out.append(">")
                if element.text:
                    out.append(_escape_text(element.text))
                for child in element:
                    self.element(child, scope)
                out.append(f"</{qname}>")
        if element.tail:
            out.append(_escape_text(element.tail))


def serialize_xml(tree: XmlTree) -> bytes:
    """The document as UTF-8 bytes, with the input's declaration, prefixes and comments."""
    writer = _Writer(tree)
    if tree.declaration:
        writer.out.append(tree.declaration + "\n")
    for node in tree.prolog:
        writer.element(node, {})
        writer.out.append("\n")
    writer.element(tree.root, {})
    writer.out.append("\n")
    for node in tree.epilog:
        writer.element(node, {})
        writer.out.append("\n")
    return "".join(writer.out).encode("utf-8")


def walk_with_parents(
    root: ET.Element, visit: Callable[[ET.Element, list[ET.Element]], bool]
) -> None:
    """Call ``visit(element, ancestors)`` depth-first; descend only where it returns true."""
    stack: list[tuple[ET.Element, list[ET.Element]]] = [(root, [])]
    while stack:
        element, ancestors = stack.pop()
        if not visit(element, ancestors):
            continue
        path = [*ancestors, element]
        stack.extend((c, path) for c in reversed(list(iter_elements(element))))
