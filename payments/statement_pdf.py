"""The merchant daily statement as a printable A4 PDF (rendered with matplotlib's PDF backend,
already a dependency, so no extra PDF library is needed)."""

from __future__ import annotations

import io

from payments.statements import MerchantStatement

LINES_PER_PAGE = 40
_A4_INCHES = (8.27, 11.69)
_COLUMNS = ("time", "type", "reference", "gross", "fee", "net")


def _money(value: object) -> str:
    return f"{value:,}" if not isinstance(value, str) else value


def merchant_statement_pdf(statement: MerchantStatement, *, merchant_name: str = "") -> bytes:
    """One A4 page per :data:`LINES_PER_PAGE` lines, totals on the last page."""
    # Imported here: matplotlib is slow to import and only this function needs it.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    title = (
        f"Merchant daily statement - {merchant_name or f'account {statement.merchant_account_id}'}"
        f" - {statement.day.isoformat()} ({statement.currency})"
    )
    rows = [
        (
            line.at.strftime("%H:%M:%S"),
            line.type,
            (line.client_reference or "")[:24],
            _money(line.gross.to_decimal()),
            _money(line.fee.to_decimal()),
            _money(line.net.to_decimal()),
        )
        for line in statement.lines
    ]
    pages = [rows[i : i + LINES_PER_PAGE] for i in range(0, len(rows), LINES_PER_PAGE)] or [[]]
    totals = [
        ("Sales", statement.sales),
        ("Voids", statement.voids),
        ("Refunds", statement.refunds),
        ("Fees", statement.fees),
        ("Net", statement.net),
        ("Settled to bank", statement.settled),
    ]
    out = io.BytesIO()
    with PdfPages(out, metadata={"Title": title, "Creator": "palmvein"}) as pdf:
        for number, page in enumerate(pages, start=1):
            figure = Figure(figsize=_A4_INCHES)
            figure.text(0.06, 0.96, title, fontsize=11, weight="bold")
            figure.text(0.94, 0.96, f"page {number}/{len(pages)}", fontsize=8, ha="right")
            axes = figure.add_axes((0.06, 0.08, 0.88, 0.85))
            axes.axis("off")
            if page:
                table = axes.table(
                    cellText=page,
                    colLabels=_COLUMNS,
                    loc="upper center",
                    cellLoc="right",
                    colLoc="right",
                )
                table.auto_set_font_size(False)
                table.set_fontsize(7)
                table.scale(1, 1.1)
            else:
                axes.text(0, 1, "No sales, voids or refunds on this day.", fontsize=9, va="top")
            if number == len(pages):
                summary = "\n".join(
                    f"{label:<16}{_money(amount.to_decimal()):>18} {statement.currency}"
                    for label, amount in totals
                )
                figure.text(0.06, 0.03, summary, fontsize=8, family="monospace", va="bottom")
            pdf.savefig(figure)
    return out.getvalue()
