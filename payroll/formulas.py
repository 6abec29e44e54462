"""Safe salary formulas: a tiny arithmetic language parsed with :mod:`ast`, never evaluated by
Python.

A formula may use numbers, the names it is given (earlier components, structure constants,
employee variables), ``+ - * /``, unary minus, ``min(...)``, ``max(...)``, ``round(x)`` and
``round(x, n)``, comparisons (``< <= > >= == !=``, chained), ``and``/``or``/``not`` and the
conditional ``a if condition else b``. Everything else (attributes, subscripts, calls of other
names, powers, lambdas, strings...) is refused when the formula is parsed, with the column of the
offending part.

Values are exact fractions in MAJOR units (dinars, dirhams), so ``base * 0.09`` and ``2000``
read as a payroll officer writes them; the caller rounds the final result to minor units once.
``round`` rounds halves away from zero (as payroll offices round by hand), not to even.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from palmvein.core.errors import ValidationFailed

MAX_LENGTH = 500
FUNCTIONS = ("min", "max", "round")
_COMPARE: dict[type[ast.cmpop], Callable[[Fraction, Fraction], bool]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div)


class FormulaError(ValidationFailed):
    """A formula is not in the allowed language, names something unknown, or cannot be computed."""

    code = "payroll-formula-invalid"


def round_half_away(value: Fraction, places: int = 0) -> Fraction:
    """Round ``value`` to ``places`` decimals, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
    scale = Fraction(10) ** places
    scaled = abs(value) * scale
    whole = int(scaled)
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    rounded = Fraction(whole) / scale
    return rounded if value >= 0 else -rounded


def _number(node: ast.Constant, text: str) -> Fraction:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FormulaError(f"{text!r}: only numbers are allowed (column {node.col_offset + 1})")
    # The literal as written ("0.09"), not the binary float Python parsed it into.
    source = ast.get_source_segment(text, node) or repr(value)
    return Fraction(Decimal(source.replace("_", "")))


@dataclass(frozen=True)
class Formula:
    """A parsed, checked formula; :meth:`evaluate` computes it for given values."""

    text: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, Fraction | int]) -> Fraction:
        missing = sorted(self.names - values.keys())
        if missing:
            raise FormulaError(f"{self.text!r}: no value for {', '.join(missing)}")
        result = _Evaluator(self.text, values).value(self.tree.body)
        return Fraction(result)


def parse_formula(text: str, allowed_names: frozenset[str] | set[str]) -> Formula:
    """Parse ``text`` and check every part of it; raises :class:`FormulaError`."""
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"a formula is at most {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"{text!r} is not a formula: {exc.msg} (column {exc.offset})") from None
    names: set[str] = set()
    _check(tree.body, text.strip(), frozenset(allowed_names), names)
    return Formula(text.strip(), tree, frozenset(names))


def _refuse(node: ast.AST, text: str, what: str) -> FormulaError:
    column = getattr(node, "col_offset", -1) + 1
    return FormulaError(f"{text!r}: {what} is not allowed in a formula (column {column})")


def _check(node: ast.AST, text: str, allowed: frozenset[str], names: set[str]) -> None:
    match node:
        case ast.Constant():
            _number(node, text)
        case ast.Name(id=name, ctx=ast.Load()):
            if name in FUNCTIONS:
                raise _refuse(node, text, f"{name} without (...)")
            if name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise FormulaError(f"{text!r}: unknown name {name!r} (known here: {known})")
            names.add(name)
        case ast.BinOp(left=left, op=op, right=right):
            if not isinstance(op, _ARITHMETIC):
                raise _refuse(node, text, f"operator {type(op).__name__}")
            _check(left, text, allowed, names)
            _check(right, text, allowed, names)
        case ast.UnaryOp(op=op, operand=operand):
            if not isinstance(op, ast.USub | ast.UAdd | ast.Not):
                raise _refuse(node, text, f"operator {type(op).__name__}")
            _check(operand, text, allowed, names)
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            for comparison in ops:
                if type(comparison) not in _COMPARE:
                    raise _refuse(node, text, f"comparison {type(comparison).__name__}")
            for part in (left, *comparators):
                _check(part, text, allowed, names)
        case ast.BoolOp(values=values):
            for part in values:
                _check(part, text, allowed, names)
        case ast.IfExp(test=test, body=body, orelse=orelse):
            for part in (test, body, orelse):
                _check(part, text, allowed, names)
        case ast.Call(func=ast.Name(id=function), args=args, keywords=[]) if function in FUNCTIONS:
            if function == "round" and len(args) not in (1, 2):
                raise _refuse(node, text, "round with other than 1 or 2 arguments")
            if function in ("min", "max") and len(args) < 2:
                raise _refuse(node, text, f"{function} with fewer than 2 arguments")
            if function == "round" and len(args) == 2:
                places = args[1]
                if not (isinstance(places, ast.Constant) and type(places.value) is int):
                    raise _refuse(places, text, "round places other than a whole number")
            for part in args:
                if isinstance(part, ast.Starred):
                    raise _refuse(part, text, "*arguments")
                _check(part, text, allowed, names)
        case ast.Call():
            raise _refuse(node, text, "calling anything but min, max or round")
        case _:
            raise _refuse(node, text, type(node).__name__)


class _Evaluator:
    def __init__(self, text: str, values: Mapping[str, Fraction | int]) -> None:
        self.text = text
        self.values = values

    def value(self, node: ast.AST) -> Fraction | bool:
        match node:
            case ast.Constant():
                return _number(node, self.text)
            case ast.Name(id=name):
                return Fraction(self.values[name])
            case ast.BinOp(left=left, op=op, right=right):
                a, b = self.number(left), self.number(right)
                if isinstance(op, ast.Add):
                    return a + b
                if isinstance(op, ast.Sub):
                    return a - b
                if isinstance(op, ast.Mult):
                    return a * b
                if b == 0:
                    raise FormulaError(f"{self.text!r}: division by zero")
                return a / b
            case ast.UnaryOp(op=ast.Not(), operand=operand):
                return not self.value(operand)
            case ast.UnaryOp(op=ast.USub(), operand=operand):
                return -self.number(operand)
            case ast.UnaryOp(operand=operand):
                return self.number(operand)
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                current = self.number(left)
                for comparison, right in zip(ops, comparators, strict=True):
                    following = self.number(right)
                    if not _COMPARE[type(comparison)](current, following):
                        return False
                    current = following
                return True
            case ast.BoolOp(op=ast.And(), values=values):
                return all(self.value(part) for part in values)
            case ast.BoolOp(values=values):
                return any(self.value(part) for part in values)
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return self.value(body) if self.value(test) else self.value(orelse)
            case ast.Call(func=ast.Name(id="round"), args=args):
                places = int(_number(args[1], self.text)) if len(args) == 2 else 0  # type: ignore[arg-type]
                return round_half_away(self.number(args[0]), places)
            case ast.Call(func=ast.Name(id=function), args=args):
                numbers = [self.number(part) for part in args]
                return min(numbers) if function == "min" else max(numbers)
        raise _refuse(node, self.text, type(node).__name__)  # unreachable after _check

    def number(self, node: ast.AST) -> Fraction:
        result = self.value(node)
        # Comparisons yield booleans; used as numbers they count as 1 and 0.
        return Fraction(int(result)) if isinstance(result, bool) else result
