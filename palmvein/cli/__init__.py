"""The ``palmvein`` command line (typer + rich).

Each command group lives in its own module exposing ``register(app)``; adding a module to
:data:`_COMMAND_MODULES` is all it takes to add commands. :func:`main` turns every error into a
one-line message with a hint and a documented exit code (:class:`ExitCode`, listed in the README).
"""

from __future__ import annotations

import importlib
import os
import sys

import typer

from palmvein.cli.errors import describe, print_failure
from palmvein.cli.exit_codes import ExitCode

app = typer.Typer(
    name="palmvein",
    help="Palm-vein biometric payroll and payments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_COMMAND_MODULES: tuple[str, ...] = (
    "palmvein.cli.demo_cmd",
    "palmvein.cli.serve_cmd",
    "palmvein.cli.db_cmd",
    "palmvein.cli.users_cmd",
    "palmvein.cli.audit_cmd",
    "palmvein.cli.bench_cmd",
    "palmvein.cli.keys_cmd",
    "palmvein.cli.calibrate_cmd",
    "palmvein.cli.devices_cmd",
    "palmvein.cli.eval_cmd",
    "palmvein.cli.sim_cmd",
    "palmvein.cli.pad_cmd",
    "palmvein.cli.payroll_cmd",
)

for _module in _COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def _is_usage_error(exc: BaseException) -> bool:
    # Click's ClickException family (typer vendors its own copy in recent versions): they know
    # how to print themselves and carry an exit code.
    return callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``palmvein`` script; exits with an :class:`ExitCode`."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="palmvein", standalone_mode=False)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:  # every error becomes one line, a hint and an exit code
        if isinstance(exc, typer.Exit) or type(exc).__name__ == "Exit":
            sys.exit(int(getattr(exc, "exit_code", ExitCode.FAILURE)))
        if isinstance(exc, typer.Abort) or type(exc).__name__ == "Abort":
            print("error: aborted", file=sys.stderr)
            sys.exit(ExitCode.INTERRUPTED)
        if _is_usage_error(exc):
            exc.show()  # type: ignore[attr-defined]
            code = int(exc.exit_code)  # type: ignore[attr-defined]
            sys.exit(ExitCode.USAGE if code == 2 else code)
        if os.environ.get("PALMVEIN_DEBUG"):
            raise
        failure = describe(exc)
        print_failure(failure)
        sys.exit(failure.code)
    sys.exit(result if isinstance(result, int) else ExitCode.OK)
