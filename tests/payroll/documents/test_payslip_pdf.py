"""Payslip PDFs: they parse, hold every figure and the net in words, and Arabic reads in order."""

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from payroll.documents import Employer, Payslip, amount_in_words, payslip_pdf, payslips_pdf


def text_of(pdf: bytes) -> str:
    """Extracted text with runs of white space (wrapped lines, no-break spaces) as one space."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_french_payslip_shows_parties_lines_totals_and_words(
    employer: Employer, run: list[Payslip]
) -> None:
    slip = run[0]
    text = text_of(payslip_pdf(employer, slip, "fr"))
    for expected in (
        "Bulletin de paie — novembre 2026",
        employer.name_latin,
        employer.tax_id,
        slip.employee.name_latin,
        slip.employee.number,
        "Salaire de base",
        "Impôt sur le revenu global",
        "56 700,00",  # gross
        "11 294,64",  # deductions
        "45 405,36 DZD",  # net
        "16 %",
        "quarante-cinq mille quatre cent cinq dinars algériens et trente-six centimes",
    ):
        assert expected in text, expected


def test_english_payslip(employer: Employer, run: list[Payslip]) -> None:
    text = text_of(payslip_pdf(employer, run[1], "en"))
    assert "Payslip — November 2026" in text
    assert "Net pay" in text and "62,558.50 DZD" in text
    assert amount_in_words(run[1].net, "en") in text


def test_arabic_payslip_text_is_in_logical_order(employer: Employer, run: list[Payslip]) -> None:
    slip = run[0]
    text = text_of(payslip_pdf(employer, slip, "ar"))
    # Extraction maps the shaped glyphs back to their letters, words in the order written (pypdf
    # does not reorder runs of different direction on one line; pdftotext does, below).
    for expected in (
        "كشف الراتب",
        "نوفمبر",
        "الصافي للدفع",
        "سميرة مثال",
        "الراتب الأساسي",
        "اشتراك الضمان الاجتماعي",
        "45,405.36",
        "خمسة وأربعون ألفاً وأربعمائة وخمسة دنانير جزائرية وستة وثلاثون سنتيماً",
    ):
        assert expected in text, expected


def test_arabic_payslip_is_laid_out_right_to_left(employer: Employer, run: list[Payslip]) -> None:
    reader = PdfReader(io.BytesIO(payslip_pdf(employer, run[0], "ar")))
    positions: dict[str, float] = {}

    def visit(text: str, cm: object, tm: list[float], font: object, size: object) -> None:
        for key in ("الرمز", "البيان", "مستحقات", "اقتطاعات", "كشف الراتب"):
            if key in text and key not in positions:
                positions[key] = tm[4]

    reader.pages[0].extract_text(visitor_text=visit)
    # Columns read from the right: code, item, ..., earnings, deductions.
    assert positions["الرمز"] > positions["البيان"] > positions["مستحقات"] > positions["اقتطاعات"]
    # The title starts at the right half of the page.
    assert positions["كشف الراتب"] > float(reader.pages[0].mediabox.width) / 2


def test_french_columns_read_left_to_right(employer: Employer, run: list[Payslip]) -> None:
    reader = PdfReader(io.BytesIO(payslip_pdf(employer, run[0], "fr")))
    positions: dict[str, float] = {}

    def visit(text: str, cm: object, tm: list[float], font: object, size: object) -> None:
        for key in ("Code", "Libellé", "Gains", "Retenues"):
            if text.strip() == key:
                positions.setdefault(key, tm[4])

    reader.pages[0].extract_text(visitor_text=visit)
    assert positions["Code"] < positions["Libellé"] < positions["Gains"] < positions["Retenues"]


def test_several_payslips_one_page_each(employer: Employer, run: list[Payslip]) -> None:
    reader = PdfReader(io.BytesIO(payslips_pdf(employer, run, "fr")))
    assert len(reader.pages) == len(run)
    assert run[3].employee.name_latin in reader.pages[3].extract_text()
    with pytest.raises(ValueError, match="no payslips"):
        payslips_pdf(employer, [], "fr")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) missing")
def test_renders_with_poppler(employer: Employer, run: list[Payslip], tmp_path: Path) -> None:
    """Poppler renders the Arabic page, and its ink sits where a right-to-left page puts it."""
    import numpy as np
    from matplotlib.image import imread

    pdf = tmp_path / "ar.pdf"
    pdf.write_bytes(payslip_pdf(employer, run[0], "ar"))
    subprocess.run(
        ["pdftoppm", "-r", "50", "-png", "-singlefile", str(pdf), str(tmp_path / "ar")], check=True
    )
    image = imread(tmp_path / "ar.png")
    ink = image[..., :3].mean(axis=2) < 0.5
    title_band = ink[: ink.shape[0] // 12]
    columns = np.nonzero(title_band.any(axis=0))[0]
    # The title is right-aligned: its ink ends near the right margin and starts past the middle.
    assert columns.min() > ink.shape[1] / 2
    assert columns.max() > ink.shape[1] * 0.9


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
def test_poppler_reads_arabic_lines_in_logical_order(
    employer: Employer, run: list[Payslip], tmp_path: Path
) -> None:
    pdf = tmp_path / "ar.pdf"
    pdf.write_bytes(payslip_pdf(employer, run[0], "ar"))
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    # Poppler wraps direction runs in bidi embedding marks; drop them to compare the letters.
    text = " ".join("".join(ch for ch in out if ch not in "\u202a\u202b\u202c").split())
    assert "كشف الراتب — نوفمبر 2026" in text
    # Poppler spells the lam-alef ligature backwards (ثالثون for ثلاثون) and spaces tanween, so
    # compare a stretch of the words without either.
    assert "وأربعمائة وخمسة دنانير جزائرية وستة" in text


def test_long_payslip_continues_on_a_second_page(employer: Employer, run: list[Payslip]) -> None:
    from dataclasses import replace

    from palmvein.core.money import Money

    slip = run[0]
    extra = tuple(
        replace(slip.lines[1], code=f"X{i:02d}", label_fr=f"Indemnité {i}") for i in range(40)
    )
    added = Money(sum(line.amount.minor for line in extra), "DZD")
    long = replace(slip, lines=slip.lines + extra, gross=slip.gross + added, net=slip.net + added)
    reader = PdfReader(io.BytesIO(payslip_pdf(employer, long, "fr")))
    assert len(reader.pages) == 2
    second = " ".join(reader.pages[1].extract_text().split())
    assert "Indemnité 39" in second and "Net à payer" in second
    assert amount_in_words(long.net, "fr") in second


@pytest.mark.parametrize(
    ("currency", "month", "words"),
    [
        ("SYP", "تشرين الثاني", "سوري"),  # Syrian month names
        ("MAD", "نونبر", "مغربي"),  # Moroccan month names
    ],
)
def test_arabic_payslip_follows_the_currency_country(
    employer: Employer, currency: str, month: str, words: str
) -> None:
    from payroll.documents.examples import example_employees, example_payslip

    slip = example_payslip(example_employees()[0], "1003.00", currency=currency)
    text = text_of(payslip_pdf(employer, slip, "ar"))
    assert month in text
    assert words in amount_in_words(slip.net, "ar")
    assert amount_in_words(slip.net, "ar").split()[0] in text


def test_overlong_label_is_cut_not_spilled(employer: Employer, run: list[Payslip]) -> None:
    from dataclasses import replace

    slip = run[0]
    long_label = "Indemnité " + "très " * 60 + "longue"
    lines = (replace(slip.lines[0], label_fr=long_label), *slip.lines[1:])
    text = text_of(payslip_pdf(employer, replace(slip, lines=lines), "fr"))
    assert "Indemnité très très" in text and "…" in text and "longue" not in text
