"""A module for tests/test_sidecar.py to run through neurokws.utils.sidecar."""

import numpy as np


def sidecar_main(request, arrays):
    if request.get("fail"):
        raise ValueError(f"asked to fail: {request['fail']}")
    if request.get("sleep"):
        import time

        time.sleep(request["sleep"])
    doubled = {k: 2 * v for k, v in arrays.items()}
    return {"echo": request, "keys": sorted(arrays), "dtype": str(arrays["x"].dtype)
            if "x" in arrays else None}, {**doubled, "index": np.arange(3)}
