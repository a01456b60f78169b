"""What machine the numbers come from, and the BLAS misconfiguration fix.

numpy's bundled OpenBLAS picks its kernels by CPU detection, and may fall
back to an older core type on CPUs it does not know (seen: "Haswell" on an
AMD EPYC with AVX-512, which runs float32 GEMMs about 2x faster with the
SkylakeX kernels). The core type can only be chosen before OpenBLAS loads,
through ``OPENBLAS_CORETYPE``; :func:`blas_fix` says which value is safe,
after checking that a child process really runs a GEMM with it.

Nothing here changes the running process; :func:`reexec_with_blas_fix` is
for the measuring commands, which restart themselves once with the fix.
"""

import os
import platform
import subprocess
import sys

__all__ = [
    "cpu_info",
    "blas_info",
    "machine_info",
    "blas_fix",
    "blas_env",
    "reexec_with_blas_fix",
    "diagnosis",
]

# Core types whose kernels use AVX-512, as OpenBLAS names them.
_AVX512_CORES = {"skylakex", "cooperlake", "sapphirerapids", "zen4", "zen5"}
_AVX512_FLAGS = {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
_FIX_ENV = "FASTCONV_BLAS_FIX_APPLIED"


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


def blas_info():
    """Numpy's BLAS: library, version, threads and detected core type.

    Needs threadpoolctl (the ``bench`` extra); without it, says so.
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
    info = {
        "cpu": cpu["model"],
        "cores": cpu["cores"],
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "blas": blas_info(),
        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
    }
    try:
        import torch

        info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        info["torch"] = None
    return info


def _gemm_runs_with(coretype):
    """True if a child process completes a float32 GEMM with `coretype`."""
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
    """The ``OPENBLAS_CORETYPE`` value this machine should use, or None.

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


#: OpenBLAS's idle workers spin (with sched_yield) for 2**28 cycles after each
#: GEMM before they sleep; 2**4 makes them sleep at once. Measured here: the
#: spinning worker holds the second core, so fastconv's kernel threads (and
#: any other library's) gain nothing from it for ~0.1 s after every GEMM.
THREAD_TIMEOUT = "4"


def blas_env(check=True):
    """Environment settings the measuring commands should run with (a dict).

    ``OPENBLAS_CORETYPE`` from :func:`blas_fix`, and ``OPENBLAS_THREAD_TIMEOUT``
    when the BLAS is OpenBLAS and the variable is not set already.
    """
    env = {}
    fix = blas_fix(check)
    if fix:
        env["OPENBLAS_CORETYPE"] = fix
    if blas_info().get("library") == "openblas" and not os.environ.get(
        "OPENBLAS_THREAD_TIMEOUT"
    ):
        env["OPENBLAS_THREAD_TIMEOUT"] = THREAD_TIMEOUT
    return env


def reexec_with_blas_fix(argv):
    """Restart ``python -m fastconv argv`` with :func:`blas_env`, if it says anything.

    Returns only when no restart happens (nothing to set, or already restarted).
    """
    if os.environ.get(_FIX_ENV):
        return
    changes = blas_env()
    if not changes:
        return
    env = dict(os.environ, **changes)
    env[_FIX_ENV] = " ".join(f"{k}={v}" for k, v in changes.items())
    if "OPENBLAS_CORETYPE" in changes and os.environ.get("OPENBLAS_CORETYPE"):
        env[_FIX_ENV + "_WAS"] = os.environ["OPENBLAS_CORETYPE"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "fastconv", *argv], env)


def diagnosis(info):
    """Lines of advice about the BLAS set-up (empty when all is well)."""
    applied = os.environ.get(_FIX_ENV)
    if applied:
        lines = [
            f"this run set {applied} for itself (--no-blas-fix to keep the "
            f"machine's settings); export the same in your programs"
        ]
        previous = os.environ.get(_FIX_ENV + "_WAS")
        if "OPENBLAS_CORETYPE" in applied:
            cause = (
                f"OPENBLAS_CORETYPE={previous} in the environment forces"
                if previous
                else "numpy's OpenBLAS detects"
            )
            lines.append(f"{cause} an older core type than this AVX-512 CPU supports")
        if "OPENBLAS_THREAD_TIMEOUT" in applied:
            lines.append(
                "OPENBLAS_THREAD_TIMEOUT=4 puts OpenBLAS's workers to sleep "
                "after a GEMM instead of spinning for ~0.1 s on the other "
                "cores, which fastconv's kernel threads (and torch) need"
            )
        return lines
    if info["blas"].get("library", "").startswith("unknown"):
        return ["BLAS details unknown: pip install threadpoolctl"]
    return [
        f"export {k}={v} (see the README, 'The BLAS set-up')"
        for k, v in blas_env(check=False).items()
    ]


if __name__ == "__main__":  # used by the Makefile: VAR=value settings, if any
    print(" ".join(f"{k}={v}" for k, v in blas_env().items()))
