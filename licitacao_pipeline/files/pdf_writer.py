"""A landscape PDF table with fpdf2: the title (with the filters) and the header row repeated on
every page, rows wrapped to their tallest cell, "Página n de N" in the footer.

The standard Helvetica font in Windows-1252 (WinAnsiEncoding) carries every Portuguese letter
and the usual typography (– — “ ” €) without embedding a font file; other characters (rare in
contract data) print as ``?``. fpdf2 keeps the document in memory until ``save``: callers cap
the number of rows (see ``flows.exportacao.MAX_PDF_ROWS``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF

ENCODING = "windows-1252"
FONT = "Helvetica"
LINE_H = 3.6  # mm per text line at FONT_SIZE
FONT_SIZE = 7.5
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Column:
    label: str
    width: float  # relative; the columns share the page width
    align: str = "L"  # L, R or C
    max_chars: int | None = None  # longer text is cut with "…" (a row never outgrows a page)


def pdf_text(text: str, max_chars: int | None = None) -> str:
    """Printable in the core font: line breaks kept, other controls as spaces, characters
    outside Windows-1252 composed if possible, else ``?``."""
    text = _CONTROL.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    text = unicodedata.normalize("NFC", text)
    return text.encode(ENCODING, errors="replace").decode(ENCODING)


class _Document(FPDF):
    def __init__(self, title: str, subtitle: str, columns: Sequence[Column]):
        super().__init__(orientation="L", unit="mm", format="A4")
        self.core_fonts_encoding = ENCODING
        self.set_margins(8, 8, 8)
        self.set_auto_page_break(True, margin=12)
        self.alias_nb_pages()
        self.title_text, self.subtitle = pdf_text(title), pdf_text(subtitle)
        total = sum(c.width for c in columns)
        usable = self.w - self.l_margin - self.r_margin
        self.columns = columns
        self.widths = [usable * c.width / total for c in columns]
        self.set_title(self.title_text)
        self.set_creator("licitacao_pipeline")

    def header(self) -> None:
        self.set_font(FONT, "B", 11)
        self.cell(0, 6, self.title_text, new_x="LMARGIN", new_y="NEXT")
        self.set_font(FONT, "", 8)
        self.multi_cell(0, 4, self.subtitle, new_x="LMARGIN", new_y="NEXT")
        self.ln(1)
        self.set_font(FONT, "B", FONT_SIZE)
        self.set_fill_color(220, 224, 230)
        self._row([pdf_text(c.label) for c in self.columns], fill=True)
        self.set_font(FONT, "", FONT_SIZE)

    def footer(self) -> None:
        self.set_y(-9)
        self.set_font(FONT, "", 7)
        self.cell(0, 4, f"Página {self.page_no()} de {{nb}}", align="R")

    def _width(self, text: str) -> float:
        """``get_string_width`` for the core font, from its width table (several times faster:
        this is the PDF export's hot loop)."""
        widths = self.current_font.cw
        units = sum(widths[c] for c in text.encode(ENCODING).decode("latin-1"))
        return units * self.font_size_pt / 1000 / self.k

    def _wrap(self, width: float, text: str) -> list[str]:
        """Lines of ``text`` within ``width`` (words kept whole unless longer than a line).
        Measured word by word: fpdf2's ``multi_cell`` wraps character by character, ~10x
        slower."""
        room = width - 2 * self.c_margin
        space = self._width(" ")
        lines = []
        for paragraph in text.split("\n"):
            line, used = "", 0.0
            for word in paragraph.split(" "):
                size = self._width(word)
                if line and used + space + size <= room:
                    line, used = f"{line} {word}", used + space + size
                    continue
                if line:
                    lines.append(line)
                while size > room:  # a word wider than the column: cut it
                    cut = len(word)
                    while cut > 1 and self._width(word[:cut]) > room:
                        cut = max(1, cut * 3 // 4 if cut > 8 else cut - 1)
                    lines.append(word[:cut])
                    word = word[cut:]
                    size = self._width(word)
                line, used = word, size
            lines.append(line)
        return lines

    def _row(self, cells: Sequence[str], fill: bool = False) -> None:
        wrapped = [self._wrap(w, t) for w, t in zip(self.widths, cells, strict=True)]
        height = max(len(lines) for lines in wrapped) * LINE_H + 1
        if self.will_page_break(height):
            self.add_page()  # header() draws the title and the header row again
        x, y = self.l_margin, self.get_y()
        for width, lines, column in zip(self.widths, wrapped, self.columns, strict=True):
            self.rect(x, y, width, height, style="DF" if fill else "D")
            for i, text in enumerate(lines):
                if text:
                    self.set_xy(x, y + 0.5 + i * LINE_H)
                    self.cell(width, LINE_H, text, align=column.align)
            x += width
        self.set_xy(self.l_margin, y + height)


class PdfTable:
    """Add rows, then ``save``. ``title`` and ``subtitle`` (the filters) head every page."""

    def __init__(self, title: str, subtitle: str, columns: Sequence[Column]):
        self._doc = _Document(title, subtitle, columns)
        self._doc.set_draw_color(190, 190, 190)
        self._doc.add_page()
        self.rows = 0

    def add_row(self, cells: Sequence[str]) -> None:
        columns = self._doc.columns
        self._doc._row([pdf_text(t, c.max_chars) for t, c in zip(cells, columns, strict=True)])
        self.rows += 1

    def save(self, path: Path) -> None:
        if self.rows == 0:
            self._doc.set_font(FONT, "I", 9)
            self._doc.cell(0, 8, "Nenhum contrato com estes filtros.")
        self._doc.output(str(path))
