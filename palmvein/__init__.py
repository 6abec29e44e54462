"""palmvein: palm-vein biometric payroll and payments."""

__version__ = "0.1.0"
