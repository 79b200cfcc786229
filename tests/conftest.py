"""Import neurokws before any test module imports numpy or compiles with numba, so that the
tests run on the fixed machine target (src/neurokws/utils/target.py), as the workflow does."""

import neurokws  # noqa: F401
