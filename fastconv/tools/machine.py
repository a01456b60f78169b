"""What machine the numbers come from, and a check of numpy's BLAS core type.

numpy's bundled OpenBLAS picks its kernels by CPU detection, and may fall
back to an older core type on CPUs it does not know (seen: "Haswell" on an
AMD EPYC with AVX-512, which runs float32 GEMMs about 2x faster with the
SkylakeX kernels). The core type can only be chosen before OpenBLAS loads,
through ``OPENBLAS_CORETYPE``; :func:`blas_fix` says which value is safe,
after checking that a child process really runs a GEMM with it. The bench
prints that as advice and measures the environment it was given.
"""

import datetime
import os
import platform
import subprocess
import sys

__all__ = ["cpu_info", "blas_info", "machine_info", "blas_fix", "diagnosis"]

# Core types whose kernels use AVX-512, as OpenBLAS names them.
_AVX512_CORES = {"skylakex", "cooperlake", "sapphirerapids", "zen4", "zen5"}
_AVX512_FLAGS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}


def cpu_info():
    """Model name, logical cores usable by this process, and the CPU flags."""
    model, flags = None, set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    model = model or platform.processor() or "unknown"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return {"model": model, "cores": cores, "flags": flags}


def simd(flags):
    """Return the widest vector extension among `flags`, as a short name."""
    if "avx512f" in flags:
        return "AVX-512"
    if "avx2" in flags:
        return "AVX2"
    if "avx" in flags:
        return "AVX"
    return "neither AVX2 nor AVX-512 reported"


def blas_info():
    """Numpy's BLAS: library, version, threads and detected core type.

    Needs threadpoolctl (a dependency of fastconv); without it, says so.
    """
    try:
        import threadpoolctl
    except ImportError:
        return {"library": "unknown (pip install threadpoolctl to see it)"}
    import numpy  # noqa: F401  (loads the BLAS so that it can be inspected)

    for pool in threadpoolctl.threadpool_info():
        if pool.get("user_api") == "blas":
            return {
                "library": pool.get("internal_api", "unknown"),
                "version": pool.get("version"),
                "threads": pool.get("num_threads"),
                "core_type": pool.get("architecture"),
                "path": pool.get("filepath"),
            }
    return {"library": "none found"}


def machine_info():
    """Everything the bench prints about the machine, as a dict."""
    import numba
    import numpy

    cpu = cpu_info()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "cpu": cpu["model"],
        "cores": cpu["cores"],
        "simd": simd(cpu["flags"]),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "blas": blas_info(),
        "blas_env": {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO_"))
        },
    }


def _gemm_runs_with(coretype):
    """Return True if a child process completes a float32 GEMM with `coretype`."""
    code = (
        "import numpy as np; a = np.ones((64, 64), np.float32); "
        "assert float((a @ a)[0, 0]) == 64.0"
    )
    env = dict(os.environ, OPENBLAS_CORETYPE=coretype)
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def blas_fix(check=True):
    """Return the ``OPENBLAS_CORETYPE`` value this machine should use, or None.

    Returns "SkylakeX" when the CPU has AVX-512 (F, CD, BW, DQ, VL) but numpy's
    OpenBLAS runs an older core type (whether it detected that itself or an
    ``OPENBLAS_CORETYPE`` in the environment forces it), and (with `check`) a
    child process ran a GEMM with "SkylakeX".
    """
    blas = blas_info()
    core = (blas.get("core_type") or "").lower()
    if blas.get("library") != "openblas" or not core or core in _AVX512_CORES:
        return None
    if not _AVX512_FLAGS <= cpu_info()["flags"]:
        return None
    if check and not _gemm_runs_with("SkylakeX"):
        return None
    return "SkylakeX"


def diagnosis(info, check=True):
    """Lines of advice about the BLAS set-up (empty when all is well)."""
    if info["blas"].get("library", "").startswith("unknown"):
        return ["BLAS details unknown: pip install threadpoolctl"]
    fix = blas_fix(check)
    if not fix:
        return []
    forced = os.environ.get("OPENBLAS_CORETYPE")
    cause = (
        f"OPENBLAS_CORETYPE={forced} in the environment forces"
        if forced
        else "numpy's OpenBLAS detects"
    )
    return [
        f"{cause} core type {info['blas'].get('core_type')}, older than this "
        f"AVX-512 CPU supports; this run measures it as it is. For faster GEMMs "
        f"in your programs: export OPENBLAS_CORETYPE={fix}"
    ]
