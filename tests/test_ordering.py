"""The order tests/conftest.py starts the test groups in names only modules that exist."""

from tests.conftest import LONGEST_FIRST, PROJECT_ROOT, SHARED_RUNS


def test_every_module_started_first_exists():
    modules = [name for name in LONGEST_FIRST if name not in (*SHARED_RUNS, "limits")]
    assert modules, LONGEST_FIRST
    missing = [name for name in modules if not (PROJECT_ROOT / name).is_file()]
    assert not missing, f"renamed or removed: update LONGEST_FIRST in tests/conftest.py: {missing}"
