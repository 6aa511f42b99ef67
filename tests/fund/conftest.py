from __future__ import annotations

import pytest

from ailab.accounts.models import User
from tests.fund import factories


@pytest.fixture
def staff(db: None) -> User:
    return factories.user("staff@lab.example", staff=True)
