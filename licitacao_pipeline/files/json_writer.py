"""Streaming JSON: one array (``[`` ... ``]``) or NDJSON (one object per line). UTF-8, no BOM
(RFC 8259); values made JSON-ready by the caller (``cells.plain``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import IO, Any


class JsonWriter:
    def __init__(self, handle: IO[str], lines: bool):
        self._handle = handle
        self._lines = lines
        self.rows = 0
        if not lines:
            handle.write("[")

    def write(self, objects: Iterable[Mapping[str, Any]]) -> None:
        for obj in objects:
            text = json.dumps(obj, ensure_ascii=False)
            if self._lines:
                self._handle.write(text + "\n")
            else:
                self._handle.write(("\n" if self.rows == 0 else ",\n") + text)
            self.rows += 1

    def close(self) -> None:
        if not self._lines:
            self._handle.write("\n]\n" if self.rows else "]\n")
