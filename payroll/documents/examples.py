"""Synthetic example inputs (no real people or institutions) for tests, demos and the README.

``python -m payroll.documents.examples OUTDIR`` writes an Arabic and a French payslip, a salary
register and the bank files for the example run into OUTDIR.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from palmvein.core.money import Money

from .types import (
    AccountScheme,
    BankAccount,
    EmployeeRef,
    Employer,
    LineKind,
    PaymentChannel,
    PayPeriod,
    Payslip,
    PayslipLine,
)


def example_employer() -> Employer:
    return Employer(
        name_ar="ولاية التجربة — مديرية المالية",
        name_latin="Wilaya de Démo — Direction des finances",
        address="1, rue de l'Exemple, 16000 Alger",
        tax_id="000016099999999",
        account=BankAccount(
            AccountScheme.RIB, "00100123000012345678", "Banque Extérieure de Démo", "BEDMDZAL"
        ),
    )


def example_payslip(
    employee: EmployeeRef,
    base: str = "45000.00",
    channel: PaymentChannel = PaymentChannel.BANK,
    period: PayPeriod | None = None,
    currency: str = "DZD",
) -> Payslip:
    """A plausible Algerian public-sector payslip computed from ``base`` (illustrative rates)."""
    base_pay = Money.of(base, currency)
    experience = base_pay.scale("0.16")
    performance = base_pay.scale("0.10")
    gross = base_pay + experience + performance
    social = gross.scale("0.09")
    income_tax = (gross - social).scale("0.12")
    lines = (
        PayslipLine(
            "SB", "الراتب الأساسي", "Salaire de base", "Base salary", LineKind.EARNING, base_pay
        ),
        PayslipLine(
            "IEP",
            "تعويض الخبرة المهنية",
            "Indemnité d'expérience professionnelle",
            "Experience allowance",
            LineKind.EARNING,
            experience,
            base_pay,
            Decimal("0.16"),
        ),
        PayslipLine(
            "PRI",
            "منحة المردودية",
            "Prime de rendement",
            "Performance bonus",
            LineKind.EARNING,
            performance,
            base_pay,
            Decimal("0.10"),
        ),
        PayslipLine(
            "SS",
            "اشتراك الضمان الاجتماعي",
            "Retenue sécurité sociale",
            "Social security",
            LineKind.DEDUCTION,
            social,
            gross,
            Decimal("0.09"),
        ),
        PayslipLine(
            "IRG",
            "الضريبة على الدخل الإجمالي",
            "Impôt sur le revenu global",
            "Income tax",
            LineKind.DEDUCTION,
            income_tax,
            gross - social,
            Decimal("0.12"),
        ),
        PayslipLine(
            "CNAS",
            "حصة المستخدم للضمان الاجتماعي",
            "Part patronale sécurité sociale",
            "Employer social security",
            LineKind.EMPLOYER_CONTRIBUTION,
            gross.scale("0.26"),
            gross,
            Decimal("0.26"),
        ),
    )
    deductions = social + income_tax
    period = period or PayPeriod.month(2026, 11)
    return Payslip(
        reference=f"BP-{period.code}-{employee.number}",
        employee=employee,
        period=period,
        currency=currency,
        lines=lines,
        gross=gross,
        total_deductions=deductions,
        net=gross - deductions,
        channel=channel,
    )


def example_employees() -> list[EmployeeRef]:
    return [
        EmployeeRef(
            "E-0001",
            "سميرة مثال",
            "Samira Exemple",
            "Service du budget",
            "Attaché principal",
            "109990000000000001",
            BankAccount(
                AccountScheme.RIB, "00100123000099990001", "Banque Extérieure de Démo", "BEDMDZAL"
            ),
        ),
        EmployeeRef(
            "E-0002",
            "كريم تجربة",
            "Karim Essai",
            "Service de la paie",
            "Administrateur",
            "109990000000000002",
            BankAccount(AccountScheme.RIP, "00799999000012345678", "Poste de Démo"),
        ),
        EmployeeRef(
            "E-0003",
            "ليلى نموذج",
            "Leila Modèle",
            "Service du budget",
            "Ingénieur d'État",
            "109990000000000003",
            BankAccount(
                AccountScheme.IBAN,
                "DZ4000100123000099990003",
                "Crédit Populaire de Démo",
                "CPDMDZAL",
            ),
        ),
        EmployeeRef(
            "E-0004",
            "يوسف عينة",
            "Youcef Échantillon",
            "Parc automobile",
            "Agent de service",
            "109990000000000004",
        ),
    ]


def example_run() -> list[Payslip]:
    """Four payslips: three paid by bank (two banks and the post office), one in cash."""
    samira, karim, leila, youcef = example_employees()
    return [
        example_payslip(samira, "45000.00"),
        example_payslip(karim, "62000.00"),
        example_payslip(leila, "58250.50"),
        example_payslip(youcef, "28000.00", PaymentChannel.CASH),
    ]


def write_examples(out: Path) -> list[Path]:
    """Write the example documents into ``out``; returns the files written."""
    from .bank_files import bank_transfer_csv, pain001_xml
    from .payslip_pdf import payslip_pdf
    from .register import register_csv, register_pdf

    out.mkdir(parents=True, exist_ok=True)
    employer = example_employer()
    run = example_run()
    files = {
        "payslip-ar.pdf": payslip_pdf(employer, run[0], "ar"),
        "payslip-fr.pdf": payslip_pdf(employer, run[0], "fr"),
        "payslip-en.pdf": payslip_pdf(employer, run[0], "en"),
        "register-fr.pdf": register_pdf(employer, run, "fr"),
        "register-ar.pdf": register_pdf(employer, run, "ar"),
        "register.csv": register_csv(run),
        "bank-transfers.csv": bank_transfer_csv(run),
        "pain001.xml": pain001_xml(
            employer,
            run,
            message_id="SAL-2026-11-0001",
            created_at=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
            execution_date=date(2026, 11, 28),
        ),
    }
    written = []
    for name, content in files.items():
        path = out / name
        path.write_bytes(content)
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - a convenience for people
    for written_path in write_examples(Path(sys.argv[1] if len(sys.argv) > 1 else ".")):
        print(written_path)
