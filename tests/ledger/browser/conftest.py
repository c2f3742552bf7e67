# The real-browser fixtures of tests/e2e, here for the Ledger tab's browser test; in a package of its own so that
# the package-scoped browser (and Playwright's loop) ends with it.
from tests.e2e.conftest import (  # noqa: F401
    browser,
    new_context,
    operator_page,
    page,
    pytest_runtest_makereport,
    viewer_page,
)
