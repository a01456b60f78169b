"""numba compilation: lazy (only what is used) and cached across processes."""

import json
import subprocess
import sys

SCRIPT = """
import json, numpy as np, fastconv
from fastconv._kernels import conv as k
fastconv.conv2d(np.ones((1, 8, 5, 5)), np.ones((8, 8, 3, 3)), padding=1)  # im2col
print(json.dumps({
    "nchw_signatures": len(k.forward_nchw.signatures),
    "nhwc_signatures": len(k.forward_nhwc.signatures),
    "backward_signatures": len(k.backward_nchw.signatures),
    "cache_hits": sum(k.forward_nchw.stats.cache_hits.values()),
    "cache_misses": sum(k.forward_nchw.stats.cache_misses.values()),
}))
"""


def _run():
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_only_used_specialisations_compile_and_the_cache_is_reused():
    _run()  # warms the on-disk cache if this is a fresh checkout
    stats = _run()
    # a float64 NCHW forward compiles one fused-kernel specialisation and nothing else
    assert stats["nchw_signatures"] == 1
    assert stats["nhwc_signatures"] == 0
    assert stats["backward_signatures"] == 0
    # ...and a new process loads it from disk instead of compiling again
    assert stats["cache_hits"] == 1 and stats["cache_misses"] == 0
