"""Payroll documents: payslip PDFs, salary register, bank transfer files, amounts in words.

Pure functions over the frozen inputs in :mod:`payroll.documents.types`; no database. See
README.md in this folder for what each function takes and returns.
"""

from .bank_files import (
    PAIN001_NAMESPACE,
    BankGroup,
    Transfer,
    bank_transfer_csv,
    bank_transfers,
    pain001_xml,
)
from .payslip_pdf import payslip_pdf, payslips_pdf
from .register import SalaryRegister, register_csv, register_pdf, salary_register
from .types import (
    LANGUAGES,
    AccountScheme,
    BankAccount,
    DocumentInputInvalid,
    EmployeeRef,
    Employer,
    Language,
    LineKind,
    PaymentChannel,
    PayPeriod,
    Payslip,
    PayslipLine,
)
from .words import NoWordsForCurrency, amount_in_words

__all__ = [
    "LANGUAGES",
    "PAIN001_NAMESPACE",
    "AccountScheme",
    "BankAccount",
    "BankGroup",
    "DocumentInputInvalid",
    "EmployeeRef",
    "Employer",
    "Language",
    "LineKind",
    "NoWordsForCurrency",
    "PayPeriod",
    "PaymentChannel",
    "Payslip",
    "PayslipLine",
    "SalaryRegister",
    "Transfer",
    "amount_in_words",
    "bank_transfer_csv",
    "bank_transfers",
    "pain001_xml",
    "payslip_pdf",
    "payslips_pdf",
    "register_csv",
    "register_pdf",
    "salary_register",
]
