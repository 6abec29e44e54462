"""Imports every module that defines tables, so ``Base.metadata`` is complete.

Alembic's ``env.py`` imports this module; autogenerate only sees tables imported here. A package
that adds models adds one import line below.
"""

from devices import models as _devices  # noqa: F401
from matcher import models as _matcher  # noqa: F401
from palmvein.core import audit as _audit  # noqa: F401
from palmvein.core.db import Base
from palmvein.core.security import throttle as _throttle  # noqa: F401
from palmvein.core.security import users as _users  # noqa: F401
from payments import models as _payments  # noqa: F401
from payroll import models as _payroll  # noqa: F401

metadata = Base.metadata
