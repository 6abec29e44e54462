"""Salary structures and the gross-to-net computation of one payslip (pure: no database).

A structure is an ordered list of components. Each is an earning (adds to gross), a deduction
(taken from gross to give net, and owed to a creditor: the tax office, the social security fund,
a lender) or an employer contribution (the employer's own social charge: shown on the payslip,
booked, but neither in gross nor in net). Its amount is one of:

- ``fixed``: a constant amount (``amount``, major units as text, e.g. ``"2000.00"``);
- ``percentage``: ``rate`` percent of ``base`` (a formula, e.g. ``"base + iep"``);
- ``formula``: a safe formula (:mod:`payroll.formulas`);
- ``brackets``: progressive tax: each slice of ``base`` above a bracket's lower bound is taxed at
  that bracket's rate;
- ``loan``: the employee's loan instalments this month, never more than what remains owed.

Formulas may name earlier components (by code), the structure's ``constants``, the employee's
variables (``base_salary`` when the employee file gives one), ``gross`` (sum of the earnings
above the line) and ``deductions`` (sum of the deductions above the line).

Rounding rule: every line is computed exactly (fractions) and rounded ONCE to the currency's minor
unit, halves away from zero. Later lines use the rounded amounts of earlier ones (what the
payslip prints), so gross, deductions and net are exact sums of the printed lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Any

from palmvein.core.errors import FieldProblem, ValidationFailed
from palmvein.core.money import currency_exponent
from payroll.formulas import Formula, FormulaError, parse_formula, round_half_away


class ComponentKind(StrEnum):
    EARNING = "earning"
    DEDUCTION = "deduction"
    EMPLOYER_CONTRIBUTION = "employer_contribution"


class Method(StrEnum):
    FIXED = "fixed"
    PERCENTAGE = "percentage"
    FORMULA = "formula"
    BRACKETS = "brackets"
    LOAN = "loan"


class Liability(StrEnum):
    """Who a deduction (or employer contribution) is owed to; one ledger account each."""

    TAX = "tax"
    SOCIAL_SECURITY = "social_security"
    LOAN = "loan"
    OTHER = "other"


class StructureInvalid(ValidationFailed):
    code = "payroll-structure-invalid"


@dataclass(frozen=True, slots=True)
class Bracket:
    """Income from ``lower`` (major units, inclusive of the slice above it) is taxed at ``rate`` %."""

    lower: Decimal
    rate: Decimal


@dataclass(frozen=True)
class Component:
    code: str
    label: str
    kind: ComponentKind
    method: Method
    amount: Decimal | None = None
    rate: Decimal | None = None
    base: Formula | None = None
    formula: Formula | None = None
    brackets: tuple[Bracket, ...] = ()
    liability: Liability | None = None


@dataclass(frozen=True)
class Structure:
    code: str
    currency: str
    effective_from: date
    components: tuple[Component, ...]
    constants: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Loan:
    reference: str
    instalment: int  # minor units per month
    remaining: int  # minor units still owed


@dataclass(frozen=True)
class EmployeeInputs:
    """What the computation needs to know about one employee this month."""

    variables: Mapping[str, int] = field(default_factory=dict)  # minor units, e.g. base_salary
    loans: Sequence[Loan] = ()


@dataclass(frozen=True, slots=True)
class PayslipLine:
    code: str
    label: str
    kind: ComponentKind
    amount: int  # minor units
    liability: Liability | None = None
    base: int | None = None  # minor units the rate applied to (percentage and brackets lines)
    rate: Decimal | None = None  # percent, for percentage lines
    loans: tuple[tuple[str, int], ...] = ()  # (loan reference, amount) for loan lines


@dataclass(frozen=True)
class Payslip:
    currency: str
    lines: tuple[PayslipLine, ...]

    def _sum(self, kind: ComponentKind) -> int:
        return sum(line.amount for line in self.lines if line.kind == kind)

    @property
    def gross(self) -> int:
        return self._sum(ComponentKind.EARNING)

    @property
    def deductions(self) -> int:
        return self._sum(ComponentKind.DEDUCTION)

    @property
    def employer_contributions(self) -> int:
        return self._sum(ComponentKind.EMPLOYER_CONTRIBUTION)

    @property
    def net(self) -> int:
        return self.gross - self.deductions

    def owed_to(self) -> dict[Liability, int]:
        """Deductions and employer contributions per creditor (what the ledger credits)."""
        owed: dict[Liability, int] = {}
        for line in self.lines:
            if line.kind != ComponentKind.EARNING and line.amount:
                liability = line.liability or Liability.OTHER
                owed[liability] = owed.get(liability, 0) + line.amount
        return owed


# -- computing --------------------------------------------------------------------------------


def _to_minor(value: Fraction, exponent: int) -> int:
    return int(round_half_away(value * 10**exponent))


def _tax(base: Fraction, brackets: Sequence[Bracket]) -> Fraction:
    tax = Fraction(0)
    bounds = [Fraction(b.lower) for b in brackets] + [None]
    for bracket, lower, upper in zip(brackets, bounds, bounds[1:]):
        assert lower is not None
        if base <= lower:
            break
        top = base if upper is None else min(base, upper)
        tax += (top - lower) * Fraction(bracket.rate) / 100
    return tax


def compute_payslip(structure: Structure, inputs: EmployeeInputs) -> Payslip:
    """Compute every line of one employee's payslip; raises FormulaError when a formula cannot be
    computed (a missing employee variable, a division by zero)."""
    exponent = currency_exponent(structure.currency)
    unit = Fraction(1, 10**exponent)
    values: dict[str, Fraction] = {k: Fraction(v) for k, v in structure.constants.items()}
    values.update({k: v * unit for k, v in inputs.variables.items()})
    gross = deductions = 0
    lines: list[PayslipLine] = []
    for component in structure.components:
        values["gross"], values["deductions"] = gross * unit, deductions * unit
        base_minor: int | None = None
        loans: tuple[tuple[str, int], ...] = ()
        if component.method == Method.FIXED:
            assert component.amount is not None
            amount = _to_minor(Fraction(component.amount), exponent)
        elif component.method == Method.LOAN:
            loans = tuple(
                (loan.reference, min(loan.instalment, loan.remaining))
                for loan in inputs.loans
                if loan.remaining > 0 and loan.instalment > 0
            )
            amount = sum(part for _, part in loans)
        elif component.method == Method.FORMULA:
            assert component.formula is not None
            amount = _to_minor(component.formula.evaluate(values), exponent)
        else:
            assert component.base is not None
            base = component.base.evaluate(values)
            base_minor = _to_minor(base, exponent)
            if component.method == Method.PERCENTAGE:
                assert component.rate is not None
                amount = _to_minor(base * Fraction(component.rate) / 100, exponent)
            else:
                amount = _to_minor(_tax(base, component.brackets), exponent)
        values[component.code] = amount * unit
        if component.kind == ComponentKind.EARNING:
            gross += amount
        elif component.kind == ComponentKind.DEDUCTION:
            deductions += amount
        if amount != 0:
            lines.append(
                PayslipLine(
                    code=component.code,
                    label=component.label,
                    kind=component.kind,
                    amount=amount,
                    liability=component.liability,
                    base=base_minor,
                    rate=component.rate if component.method == Method.PERCENTAGE else None,
                    loans=loans,
                )
            )
    return Payslip(structure.currency, tuple(lines))


# -- reading a structure from its JSON definition ---------------------------------------------

EMPLOYEE_VARIABLES = frozenset({"base_salary"})
_RESERVED = frozenset({"gross", "deductions"}) | EMPLOYEE_VARIABLES


def _decimal(value: Any, where: str, problems: list[FieldProblem]) -> Decimal | None:
    if isinstance(value, float) or value is None or isinstance(value, bool):
        problems.append(FieldProblem(where, 'must be a number written as text, e.g. "9"'))
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        problems.append(FieldProblem(where, f"{value!r} is not a number"))
        return None
    if not result.is_finite():
        problems.append(FieldProblem(where, f"{value!r} is not a finite number"))
        return None
    return result


def _formula(
    text: Any, names: set[str], where: str, problems: list[FieldProblem]
) -> Formula | None:
    if not isinstance(text, str) or not text.strip():
        problems.append(FieldProblem(where, "a formula is required"))
        return None
    try:
        return parse_formula(text, names)
    except FormulaError as exc:
        problems.append(FieldProblem(where, exc.message))
        return None


def _brackets(raw: Any, where: str, problems: list[FieldProblem]) -> tuple[Bracket, ...]:
    if not isinstance(raw, list) or not raw:
        problems.append(FieldProblem(where, "brackets need a list of [lower, rate] pairs"))
        return ()
    brackets: list[Bracket] = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            problems.append(FieldProblem(f"{where}[{i}]", "a bracket is [lower, rate]"))
            continue
        lower = _decimal(pair[0], f"{where}[{i}].lower", problems)
        rate = _decimal(pair[1], f"{where}[{i}].rate", problems)
        if lower is not None and rate is not None:
            brackets.append(Bracket(lower, rate))
    lowers = [b.lower for b in brackets]
    if lowers and (lowers != sorted(set(lowers)) or lowers[0] != 0):
        problems.append(FieldProblem(where, "bracket lower bounds must start at 0 and increase"))
    return tuple(brackets)


def parse_structure(
    code: str, currency: str, effective_from: date, definition: Mapping[str, Any]
) -> Structure:
    """Build and check a structure from its JSON definition; every problem is reported at once.

    ``definition`` = ``{"constants": {"name": "value"}, "components": [{"code", "label",
    "kind", "method", "amount"|"rate"+"base"|"formula"|"brackets"+"base", "liability"}]}``.
    """
    problems: list[FieldProblem] = []
    try:
        currency_exponent(currency)
    except ValidationFailed as exc:
        problems.append(FieldProblem("currency", exc.message))
    constants: dict[str, Decimal] = {}
    for name, raw in dict(definition.get("constants") or {}).items():
        value = _decimal(raw, f"constants.{name}", problems)
        if not str(name).isidentifier() or name in _RESERVED:
            problems.append(FieldProblem(f"constants.{name}", "not a usable name"))
        elif value is not None:
            constants[name] = value
    names: set[str] = set(constants) | _RESERVED
    components: list[Component] = []
    raw_components = definition.get("components")
    if not isinstance(raw_components, list) or not raw_components:
        problems.append(FieldProblem("components", "a structure needs at least one component"))
        raw_components = []
    for i, raw in enumerate(raw_components):
        where = f"components[{i}]"
        if not isinstance(raw, Mapping):
            problems.append(FieldProblem(where, "a component is an object"))
            continue
        component = _component(raw, where, names, problems)
        if component is not None:
            components.append(component)
            names.add(component.code)
    if problems:
        raise StructureInvalid(
            f"salary structure {code!r} has {len(problems)} problem(s)", problems
        )
    return Structure(code, currency, effective_from, tuple(components), constants)


def _component(
    raw: Mapping[str, Any], where: str, names: set[str], problems: list[FieldProblem]
) -> Component | None:
    before = len(problems)
    code = raw.get("code")
    if not isinstance(code, str) or not code.isidentifier() or code in names:
        problems.append(FieldProblem(f"{where}.code", f"{code!r} is not a new identifier"))
    try:
        kind = ComponentKind(str(raw.get("kind")))
        method = Method(str(raw.get("method")))
    except ValueError:
        problems.append(FieldProblem(where, "unknown kind or method"))
        return None
    liability: Liability | None = None
    if kind != ComponentKind.EARNING:
        try:
            default = Liability.LOAN if method == Method.LOAN else Liability.OTHER
            liability = Liability(raw.get("liability", default))
        except ValueError:
            problems.append(FieldProblem(f"{where}.liability", "unknown liability"))
    amount = rate = None
    base = formula = None
    brackets: tuple[Bracket, ...] = ()
    if method == Method.FIXED:
        amount = _decimal(raw.get("amount"), f"{where}.amount", problems)
    elif method == Method.PERCENTAGE:
        rate = _decimal(raw.get("rate"), f"{where}.rate", problems)
        base = _formula(raw.get("base"), names, f"{where}.base", problems)
    elif method == Method.FORMULA:
        formula = _formula(raw.get("formula"), names, f"{where}.formula", problems)
    elif method == Method.BRACKETS:
        brackets = _brackets(raw.get("brackets"), f"{where}.brackets", problems)
        base = _formula(raw.get("base"), names, f"{where}.base", problems)
    elif kind != ComponentKind.DEDUCTION:
        problems.append(FieldProblem(f"{where}.method", "loan repayments are deductions"))
    if len(problems) > before:
        return None
    assert isinstance(code, str)
    return Component(
        code=code,
        label=str(raw.get("label") or code),
        kind=kind,
        method=method,
        amount=amount,
        rate=rate,
        base=base,
        formula=formula,
        brackets=brackets,
        liability=liability,
    )
