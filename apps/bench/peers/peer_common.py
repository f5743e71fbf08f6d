"""Helpers shared by the PyTorch peers in this folder (imported as a sibling module)."""
import time


def median_ms(fn, warmup, iters):
    """Median wall time of `iters` calls of fn (ms), after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    n = len(ts)
    return ts[n // 2] if n % 2 else (ts[n // 2 - 1] + ts[n // 2]) / 2


def openblas_core():
    """The OpenBLAS kernel family in use (e.g. SkylakeX, Haswell), or None."""
    import ctypes

    for name in ("libopenblas.so.0", "libopenblasp.so.0", "libblas.so.3"):
        try:
            lib = ctypes.CDLL(name)
            fn = lib.openblas_get_corename
            fn.restype = ctypes.c_char_p
            return fn().decode()
        except (OSError, AttributeError):
            continue
    return None
