"""Text from outside (a UASG's name, a record's value) as it goes into run tags, log lines,
metadata and error messages: one line, capped. The warehouse keeps the text whole."""

from __future__ import annotations

LIMITE = 200  # characters of outside text in a tag, a log line or a metadata value


def curto(texto: str, limite: int = LIMITE) -> str:
    """``texto`` on one line and at most ``limite`` characters (``…`` and the whole size when
    cut): a 2 MiB UASG name must not become a 2-million-character tag."""
    head = texto[: limite * 2]
    if "\n" in head or "\r" in head:
        head = " ".join(head.split())
    if len(texto) <= limite * 2 and len(head) <= limite:
        return head
    suffix = f"… ({len(texto):,} caracteres)".replace(",", ".")
    return head[: max(0, limite - len(suffix))] + suffix
