import pathlib
import sys
import uuid

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))


@pytest.fixture
def users():
    """Fresh user ids for one test: users('alice', 'bob') -> ('alice-1a2b3c', 'bob-1a2b3c')."""
    suffix = uuid.uuid4().hex[:8]
    return lambda *names: tuple(f"{name}-{suffix}" for name in names)
