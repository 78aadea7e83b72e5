"""Session fixtures shared by the end-to-end and browser tests: one real stack for the run."""

import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from parley_stack import ROOT, Stack  # noqa: E402


def bin_dir():
    if os.environ.get("PARLEY_BIN_DIR"):
        return os.environ["PARLEY_BIN_DIR"]
    out = subprocess.run(["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.fixture(scope="session")
def stack():
    state = pathlib.Path(tempfile.mkdtemp(prefix="parley-e2e-", dir=os.environ.get("PARLEY_E2E_STATE")))
    s = Stack(state, bin_dir())
    try:
        s.start()
        yield s
    finally:
        s.stop()
