"""Import neurokws before any test module imports numpy or compiles with numba, so that the
tests run on the fixed machine target (src/neurokws/utils/target.py), as the workflow does."""

import neurokws  # noqa: F401

# The longest test files first (their marks: cluster, then workflow, then slow), each file's
# tests in their own order: with `make test`'s workers (pytest-xdist, a file per worker, in
# collection order) the long ones start at once and short ones fill the end, instead of a
# long file starting last while the other worker idles.
_FIRST = ("cluster", "workflow", "slow")


def pytest_collection_modifyitems(config, items):
    def rank(item):
        return next((i for i, mark in enumerate(_FIRST) if item.get_closest_marker(mark)),
                    len(_FIRST))

    files = {}
    for item in items:
        path = item.nodeid.split("::")[0]
        files[path] = min(files.get(path, len(_FIRST)), rank(item))
    items.sort(key=lambda item: files[item.nodeid.split("::")[0]])   # stable: file order kept
