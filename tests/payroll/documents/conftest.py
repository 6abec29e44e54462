import pytest

from payroll.documents import Employer, Payslip
from payroll.documents.examples import example_employer, example_run


@pytest.fixture
def employer() -> Employer:
    return example_employer()


@pytest.fixture
def run() -> list[Payslip]:
    return example_run()
