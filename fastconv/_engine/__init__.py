"""The engine's internals: argument checks, geometry, workspace, threads, trace.

Nothing here is public; :mod:`fastconv.conv` and :mod:`fastconv.pool` are the
doors, and the jitted kernels live apart in :mod:`fastconv._kernels`.
"""
