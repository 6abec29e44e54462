"""Exit codes of the ``palmvein`` command, stable for scripts (listed in the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # an unexpected error (a bug): the message says where to look
    USAGE = 2  # wrong command line (unknown option, missing argument)
    CONFIG = 3  # settings refused (e.g. production with the default secret)
    DATABASE = 4  # database unreachable, or its schema is not at the latest migration
    NOT_FOUND = 5
    CONFLICT = 6  # already exists, or the state does not allow it
    INVALID = 7  # input breaks a rule (bad username, short password, unknown role)
    DENIED = 8  # authentication failed, permission denied or throttled
    INTEGRITY = 9  # stored data failed an integrity check (audit chain broken)
    INTERRUPTED = 130  # Ctrl-C
