"""The order tests/conftest.py starts the test groups in names only modules that exist."""

from tests.conftest import NOTEBOOK_MODULES, PROJECT_ROOT


def test_every_module_started_first_exists():
    missing = [name for name in NOTEBOOK_MODULES if not (PROJECT_ROOT / name).is_file()]
    assert NOTEBOOK_MODULES and not missing, (
        f"renamed or removed: update NOTEBOOK_MODULES in tests/conftest.py: {missing}"
    )
