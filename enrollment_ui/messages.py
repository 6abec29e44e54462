"""The messages the pages show, extracted from the templates and the page modules.

``python -m enrollment_ui.messages`` lists them; the tests check every language's catalogue
(``locales/<lang>/LC_MESSAGES/messages.po``) translates each one.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

PACKAGE_DIR = Path(__file__).parent
_METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]
_KEYWORDS = {"_": None, "N_": None}


def extract_messages() -> dict[str, list[str]]:
    """msgid -> where it is used (file:line)."""
    found: dict[str, list[str]] = {}
    for filename, line, message, _comments, _context in extract_from_dir(
        PACKAGE_DIR, method_map=_METHODS, keywords=_KEYWORDS,
        options_map={"templates/**.html": {"trimmed": "true"}},
    ):
        if isinstance(message, tuple):  # pragma: no cover - no plural forms used
            message = message[0]
        if message:
            found.setdefault(message, []).append(f"{filename}:{line}")
    return found


if __name__ == "__main__":  # pragma: no cover
    for msgid in sorted(extract_messages()):
        print(msgid)
