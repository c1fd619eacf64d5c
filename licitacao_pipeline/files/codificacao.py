"""A text file's bytes checked before anything reads it as CSV: not empty, no NUL (a binary file
in disguise), decodable in its declared encoding, not a UTF-8 file read as latin-1, not mixed;
a UTF-16 file (a BOM: Excel's "Unicode text") transcoded to UTF-8. Byte-level, in chunks."""

from __future__ import annotations

import codecs
import itertools
from collections.abc import Iterator
from typing import IO

_CHUNK = 1 << 20


class TextoRecusado(ValueError):
    """The file is not the text it should be; the message names the line and what to do."""


def _line_of(chunk: bytes, at: int, lines_before: int) -> int:
    return lines_before + chunk[: max(0, at)].count(b"\n")


def check_text(raw: IO[bytes], name: str, encoding: str, copy: IO[bytes] | None = None) -> str:
    """Read the whole file once before anything is changed: not empty, no NUL (binary),
    decodable in ``encoding``; with latin-1, no line that is in fact UTF-8. A file that starts
    with a UTF-16 BOM (Excel's "Unicode text") is read as UTF-16 whatever ``encoding`` says.
    What was read (UTF-16 as UTF-8) goes to ``copy``, to be parsed from there, so a file
    rewritten meanwhile cannot differ from what was checked. Returns the copy's encoding."""
    lines, content, first = 1, False, True
    chunks, utf16 = _chunks(raw, name)
    encoding = "utf-8" if utf16 else encoding
    decoder = codecs.getincrementaldecoder(encoding)()
    utf8_line = latin_line = None  # latin-1 only: first line in each encoding
    carry = b""
    for chunk in chunks:
        if copy is not None:
            copy.write(chunk)
        if first and encoding == "utf-8" and chunk.startswith(codecs.BOM_UTF8):
            chunk = chunk[len(codecs.BOM_UTF8) :]
        first = False
        if b"\x00" in chunk:
            line = _line_of(chunk, chunk.index(b"\x00"), lines)
            what = (
                "um caractere NUL, que uma célula CSV não comporta"
                if utf16
                else "um byte NUL: um arquivo binário (uma planilha salva como .xlsx ou .ods?), "
                "não texto CSV; salve-o como CSV"
            )
            raise TextoRecusado(f"{name} linha {line}: {what}")
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            at = min(max(0, exc.start - pending), len(chunk) - 1)
            raise TextoRecusado(
                f"{name} linha {_line_of(chunk, at, lines)}: o byte 0x{chunk[at]:02x} não é "
                f"texto {encoding} (um arquivo em outra codificação, ou codificações misturadas); "
                f"salve-o como UTF-8, ou defina encoding como "
                f"{'latin-1' if encoding == 'utf-8' else 'utf-8'}"
            ) from None
        content = content or bool(text.strip())
        if encoding == "latin-1":
            *complete, carry = (carry + chunk).split(b"\n")
            for i, line in enumerate(complete):
                utf8_line, latin_line = _classify(line, lines + i, utf8_line, latin_line)
            if len(carry) > 4 * _CHUNK:  # a huge line: classify what came (memory stays bounded)
                end = len(carry) - 1  # cut before a character's first byte, not inside it
                while end > len(carry) - 4 and 0x80 <= carry[end] <= 0xBF:
                    end -= 1
                line_no = lines + len(complete)
                utf8_line, latin_line = _classify(carry[:end], line_no, utf8_line, latin_line)
                carry = carry[end:]
        lines += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise TextoRecusado(
            f"{name} linha {lines}: o arquivo termina no meio de um caractere"
        ) from None
    if encoding == "latin-1" and carry:
        utf8_line, latin_line = _classify(carry, lines, utf8_line, latin_line)
    if not content:
        raise TextoRecusado(f"{name}: arquivo vazio (sem cabeçalho, sem linhas)")
    if utf8_line is not None:
        where = (
            f"codificações misturadas: a linha {utf8_line} é UTF-8, a linha {latin_line} é latin-1"
            if latin_line is not None
            else f"a linha {utf8_line} é texto UTF-8, que latin-1 leria errado"
        )
        raise TextoRecusado(f"{name}: {where}; salve tudo como UTF-8 e defina encoding como utf-8")
    return encoding


def _chunks(raw: IO[bytes], name: str) -> tuple[Iterator[bytes], bool]:
    """The file's chunks, and whether it is UTF-16 (then transcoded to UTF-8 chunks)."""
    head = raw.read(_CHUNK)
    if not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return itertools.chain([head] if head else [], iter(lambda: raw.read(_CHUNK), b"")), False

    def utf8() -> Iterator[bytes]:
        decoder = codecs.getincrementaldecoder("utf-16")()
        chunk = head
        try:
            while True:
                yield decoder.decode(chunk, final=not chunk).encode("utf-8")
                if not chunk:
                    return
                chunk = raw.read(_CHUNK)
        except UnicodeError:
            raise TextoRecusado(
                f"{name}: começa como UTF-16 (um BOM), mas não é texto UTF-16 válido; salve-o "
                "como CSV UTF-8"
            ) from None

    return utf8(), True


def _classify(line: bytes, number: int, utf8_line, latin_line):
    if line.isascii():
        return utf8_line, latin_line
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return utf8_line, latin_line if latin_line is not None else number
    return (utf8_line if utf8_line is not None else number), latin_line
