"""Fixed captions of the documents in Arabic, French and English."""

from __future__ import annotations

from typing import Final

from .types import Language, LineKind, PaymentChannel

_LABELS: Final[dict[str, tuple[str, str, str]]] = {
    # key: (ar, fr, en)
    "payslip": ("كشف الراتب", "Bulletin de paie", "Payslip"),
    "period": ("الفترة", "Période", "Period"),
    "reference": ("المرجع", "Référence", "Reference"),
    "employer": ("الهيئة المستخدمة", "Employeur", "Employer"),
    "tax_id": ("الرقم الجبائي", "NIF", "Tax id"),
    "employee": ("الموظف", "Employé", "Employee"),
    "employee_number": ("رقم الموظف", "Matricule", "Employee number"),
    "name": ("الاسم واللقب", "Nom et prénom", "Name"),
    "unit": ("المصلحة", "Service", "Unit"),
    "grade": ("الرتبة", "Grade", "Grade"),
    "national_id": ("رقم التعريف الوطني", "NIN", "National id"),
    "bank_name": ("البنك", "Banque", "Bank"),
    "channel": ("طريقة الدفع", "Mode de paiement", "Paid by"),
    "account": ("الحساب", "Compte", "Account"),
    "code": ("الرمز", "Code", "Code"),
    "label": ("البيان", "Libellé", "Item"),
    "base": ("الأساس", "Base", "Base"),
    "rate": ("النسبة", "Taux", "Rate"),
    "earning": ("مستحقات", "Gains", "Earnings"),
    "deduction": ("اقتطاعات", "Retenues", "Deductions"),
    "employer_contribution": ("حصة المستخدم", "Part patronale", "Employer share"),
    "gross": ("الراتب الإجمالي", "Salaire brut", "Gross pay"),
    "total_deductions": ("مجموع الاقتطاعات", "Total des retenues", "Total deductions"),
    "net": ("الصافي للدفع", "Net à payer", "Net pay"),
    "net_in_words": (
        "المبلغ الصافي بالحروف",
        "Net à payer en toutes lettres",
        "Net pay in words",
    ),
    "register": ("سجل الأجور", "Livre de paie", "Salary register"),
    # Title suffix of documents printed from a run whose figures are not final yet.
    "preview": (
        "معاينة، أرقام غير نهائية",
        "APERÇU, chiffres non définitifs",
        "PREVIEW, figures not final",
    ),
    "totals": ("المجموع", "Totaux", "Totals"),
    "page": ("صفحة", "Page", "Page"),
    "of": ("من", "sur", "of"),
    "employees": ("عدد الموظفين", "Effectif", "Employees"),
    "bank": ("تحويل بنكي", "Virement bancaire", "Bank transfer"),
    "wallet": ("محفظة إلكترونية", "Portefeuille électronique", "Wallet"),
    "cash": ("نقداً", "Espèces", "Cash"),
    # Narrow forms for the register's channel column.
    "bank_short": ("بنك", "Banque", "Bank"),
    "wallet_short": ("محفظة", "Portef.", "Wallet"),
    "cash_short": ("نقداً", "Espèces", "Cash"),
}

_INDEX: Final[dict[Language, int]] = {"ar": 0, "fr": 1, "en": 2}


def label(key: str, language: Language) -> str:
    """The caption ``key`` in ``language``; KeyError names an unknown key."""
    return _LABELS[key][_INDEX[language]]


def kind_label(kind: LineKind, language: Language) -> str:
    return label(kind.value, language)


def channel_label(channel: PaymentChannel, language: Language) -> str:
    return label(channel.value, language)
