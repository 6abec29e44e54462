"""Salary structures used by the payroll tests (the same ones the demo books)."""

from __future__ import annotations

from payroll.sample import ALGERIA_FROM, algeria_structure

ALGERIA_GRADE_12 = algeria_structure()

__all__ = ["ALGERIA_FROM", "ALGERIA_GRADE_12"]
