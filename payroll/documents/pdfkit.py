"""What payslip and register PDFs share: the font, text shaping, and mirrored table rows.

The font is DejaVu Sans as bundled with matplotlib (a runtime dependency), so Arabic renders
without any system font. HarfBuzz (through uharfbuzz) shapes the joined letters and the Unicode
bidi algorithm orders each line; for Arabic documents every line has a right-to-left base
direction and table columns are laid out from the right edge.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .types import Language

FONT_FAMILY = "dejavu"
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
Align = Literal["L", "R", "C"]


def font_directory() -> Path:
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its width in mm and whether it holds figures (right-aligned in any language)."""

    width: float
    numeric: bool = False


class Document(FPDF):
    """An A4 PDF for one language; ``rtl`` is true for Arabic."""

    def __init__(self, language: Language, orientation: Literal["P", "L"] = "P") -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.language = language
        self.rtl = language == "ar"
        fonts = font_directory()
        self.add_font(FONT_FAMILY, "", str(fonts / "DejaVuSans.ttf"))
        self.add_font(FONT_FAMILY, "B", str(fonts / "DejaVuSans-Bold.ttf"))
        self.set_font(FONT_FAMILY, size=9)
        self.set_text_shaping(
            use_shaping_engine=True,
            direction="rtl" if self.rtl else "ltr",
            script="arab" if self.rtl else None,
            language="ara" if self.rtl else None,
        )
        self.set_margins(12, 12, 12)
        self.set_auto_page_break(auto=True, margin=14)
        self.set_creator("palmvein")
        self.set_lang(language)

    @property
    def content_width(self) -> float:
        return float(self.w - self.l_margin - self.r_margin)

    def start_align(self) -> Align:
        """Where text starts in this language: right for Arabic."""
        return "R" if self.rtl else "L"

    def text_line(
        self,
        text: str,
        *,
        size: float = 9,
        bold: bool = False,
        align: Align | None = None,
        height: float = 5.5,
    ) -> None:
        """A full-width line of text aligned at the language's start unless told otherwise."""
        self.set_font(FONT_FAMILY, "B" if bold else "", size)
        with self.direction_for(text):
            self.cell(
                self.content_width,
                height,
                text,
                align=align or self.start_align(),
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )

    def paragraph(self, text: str, *, size: float = 9, bold: bool = False) -> None:
        self.set_font(FONT_FAMILY, "B" if bold else "", size)
        with self.direction_for(text):
            self.multi_cell(
                self.content_width,
                5,
                text,
                align=self.start_align(),
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )

    def row(
        self,
        columns: Sequence[Column],
        texts: Sequence[str],
        *,
        height: float = 6,
        bold: bool = False,
        size: float = 8,
        fill: bool = False,
        border: Literal[0, 1] = 1,
    ) -> None:
        """One table row; columns are given in reading order and mirrored for Arabic."""
        if len(columns) != len(texts):
            raise ValueError("one text per column")
        if self.auto_page_break and self.get_y() + height > self.page_break_trigger:
            # Break before the row: breaking inside it would scatter its cells over two pages.
            self.add_page()
        self.set_font(FONT_FAMILY, "B" if bold else "", size)
        pairs = list(zip(columns, texts, strict=True))
        if self.rtl:
            pairs.reverse()
        x = self.l_margin
        y = self.get_y()
        for column, text in pairs:
            self.set_xy(x, y)
            align: Align = "R" if column.numeric else self.start_align()
            with self.direction_for(text):
                fitted = self._fit(text, column.width, size)
                self.cell(column.width, height, fitted, border=border, align=align, fill=fill)
                self.set_font_size(size)
            x += column.width
        self.set_xy(self.l_margin, y + height)

    def _fit(self, text: str, width: float, size: float) -> str:
        """Shrink the font (to 70 % at most) so ``text`` fits ``width``, then cut it with "…"."""
        room = width - 2 * self.c_margin
        natural = self.get_string_width(text)
        if natural <= room:
            return text
        # 2 % under the exact ratio: widths scale linearly but not to the last float bit.
        self.set_font_size(max(size * 0.7, 0.98 * size * room / natural))
        while len(text) > 1 and self.get_string_width(text) > room:
            text = text[:-2] + "…"
        return text

    def key_values(
        self,
        pairs: Sequence[tuple[str, str]],
        *,
        key_width: float,
        width: float,
        x: float,
        size: float = 8.5,
    ) -> float:
        """Caption/value lines in a box at ``x`` (mm from the left); returns the y below it.

        Long values wrap inside their half of the page instead of running into the other.
        """
        y = self.get_y()
        value_width = width - key_width
        key_x, value_x = (x + value_width, x) if self.rtl else (x, x + key_width)
        for key, value in pairs:
            self.set_font(FONT_FAMILY, "B", size)
            self.set_xy(key_x, y)
            with self.direction_for(key):
                self.multi_cell(key_width, 4.5, key, align=self.start_align())
            key_bottom = self.get_y()
            self.set_font(FONT_FAMILY, "", size)
            self.set_xy(value_x, y)
            with self.direction_for(value):
                self.multi_cell(value_width, 4.5, value, align=self.start_align())
            y = max(key_bottom, self.get_y()) + 0.6
        return y

    @contextmanager
    def direction_for(self, text: str) -> Iterator[None]:
        """Shape ``text`` left to right when it has no Arabic letters, even in an Arabic document.

        An all-Latin address or account number in a right-to-left paragraph would have its
        leading digits and trailing punctuation moved by the bidi algorithm ("16000 Alger ,1").
        """
        if not self.rtl or _ARABIC.search(text):
            yield
            return
        self.set_text_shaping(use_shaping_engine=True, direction="ltr")
        try:
            yield
        finally:
            self.set_text_shaping(
                use_shaping_engine=True, direction="rtl", script="arab", language="ara"
            )

    def row_at(
        self,
        x: float,
        width: float,
        caption: str,
        value: str,
        *,
        bold: bool = False,
        size: float = 9,
        fill: bool = False,
    ) -> None:
        """A caption and a figure side by side in a box of ``width`` mm starting at ``x``."""
        if self.auto_page_break and self.get_y() + 7 > self.page_break_trigger:
            self.add_page()
        self.set_font(FONT_FAMILY, "B" if bold else "", size)
        y = self.get_y()
        cells: list[tuple[str, Align]] = [(caption, self.start_align()), (value, "R")]
        if self.rtl:
            cells.reverse()
        cx = x
        for text, align in cells:
            self.set_xy(cx, y)
            with self.direction_for(text):
                self.cell(width / 2, 7, text, border=1, align=align, fill=fill)
            cx += width / 2
        self.set_xy(self.l_margin, y + 7)
