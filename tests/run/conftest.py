"""The `make_run` fixture: a MakeRun (run_stack.py) whose processes all end with the test."""

import os
import pathlib
import tempfile

import pytest
from run_stack import MakeRun


@pytest.fixture
def make_run():
    folder = pathlib.Path(tempfile.mkdtemp(prefix="parley-make-run-", dir=os.environ.get("PARLEY_E2E_STATE")))
    stack = MakeRun(folder)
    try:
        yield stack
    finally:
        stack.close()
