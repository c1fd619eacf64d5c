"""Streaming XML 1.0, UTF-8 declared: one element per record, one child element per field (a
NULL is an empty element with ``xsi:nil="true"``), nested lists for related rows.

Text is escaped (``& < >``, and ``\\r`` as ``&#13;``, which parsers would otherwise turn into
``\\n``). Characters XML 1.0 cannot carry at all (control characters other than tab, newline
and carriage return) become U+FFFD.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from licitacao_pipeline.files.cells import Kind, plain

XSI = "http://www.w3.org/2001/XMLSchema-instance"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Field = tuple[str, Kind]


def xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text), {"\r": "&#13;"})


def _attr(value: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", value))


def _value_text(kind: Kind, value: Any) -> str:
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(plain(kind, value))


class XmlWriter:
    """``<root attrs>`` + records + ``</root>``; ``close()`` ends the document."""

    def __init__(self, handle: IO[str], root: str, attrs: Mapping[str, str]):
        self._handle = handle
        self._root = root
        self.rows = 0
        extra = "".join(f" {k}={_attr(v)}" for k, v in attrs.items())
        handle.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        handle.write(f'<{root} xmlns:xsi="{XSI}"{extra}>\n')

    def _fields(self, fields: Sequence[Field], row: Mapping[str, Any], indent: str) -> list[str]:
        out = []
        for name, kind in fields:
            value = row[name]
            if value is None:
                out.append(f'{indent}<{name} xsi:nil="true"/>\n')
            else:
                out.append(f"{indent}<{name}>{xml_text(_value_text(kind, value))}</{name}>\n")
        return out

    def write(
        self,
        tag: str,
        fields: Sequence[Field],
        row: Mapping[str, Any],
        nested: Sequence[tuple[str, str, Sequence[Field], Sequence[Mapping[str, Any]]]] = (),
    ) -> None:
        """One record; ``nested``: (list tag, item tag, item fields, item rows) per list."""
        parts = [f"  <{tag}>\n", *self._fields(fields, row, "    ")]
        for list_tag, item_tag, item_fields, items in nested:
            if not items:
                parts.append(f"    <{list_tag}/>\n")
                continue
            parts.append(f"    <{list_tag}>\n")
            for item in items:
                parts += [f"      <{item_tag}>\n", *self._fields(item_fields, item, "        ")]
                parts.append(f"      </{item_tag}>\n")
            parts.append(f"    </{list_tag}>\n")
        parts.append(f"  </{tag}>\n")
        self._handle.write("".join(parts))
        self.rows += 1

    def close(self) -> None:
        self._handle.write(f"</{self._root}>\n")
