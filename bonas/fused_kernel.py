"""Load botorch's fused qLogEHVI kernel without the risk of waiting for it forever.

botorch (0.18 and later) compiles a C++ kernel for its hypervolume acquisitions the first time one is built,
under torch's extension cache (``~/.cache/torch_extensions/<python>_<device>/logei_fused_ext``, or
``$TORCH_EXTENSIONS_DIR``), guarded by a ``lock`` file. A process killed while compiling leaves that file
behind, and every later process then waits for it to disappear: the first multi-objective ask of a search
hangs, with no message. :func:`load_fused_kernel` lets botorch try in a background thread and waits at most
:data:`LOAD_TIMEOUT_S`; past that it warns, naming the cache, and the search goes on with botorch's
pure-Python path (the same hypervolume improvement, a few times slower to evaluate).
"""

from __future__ import annotations

import os
import threading
import warnings

LOAD_TIMEOUT_S = 300.0
"""Seconds to wait for the first load (a compile on two cores takes well under a minute)."""

_lock = threading.Lock()
_checked = False


def extension_cache() -> str:
    """Where torch keeps compiled extensions (``$TORCH_EXTENSIONS_DIR`` or its default), for messages."""
    return os.environ.get("TORCH_EXTENSIONS_DIR", os.path.join("~", ".cache", "torch_extensions"))


def load_fused_kernel(timeout_s: float | None = None) -> bool:
    """Let botorch load (or compile) its fused kernel, waiting at most ``timeout_s`` seconds; once per process.

    Returns ``True`` when the load finished in time (with the kernel or, if it failed to build, botorch's own
    warning and its pure-Python fallback) and ``False`` when it did not: then a ``RuntimeWarning`` names the
    likely cause, a stale ``lock`` left by an interrupted compile, and botorch's acquisitions use the pure-Python
    path. Later calls return at once. A botorch without the fused kernel makes this a no-op.
    """
    global _checked
    with _lock:
        if _checked:
            return True
        _checked = True
        from botorch.acquisition.multi_objective import logei

        load = getattr(logei, "_try_load_fused_kernel", None)
        if load is None:
            return True
        loader = threading.Thread(target=load, name="botorch-fused-kernel", daemon=True)
        loader.start()
        loader.join(LOAD_TIMEOUT_S if timeout_s is None else timeout_s)
        if not loader.is_alive():
            return True
        warnings.warn(
            f"botorch's fused qLogEHVI kernel did not load within {LOAD_TIMEOUT_S if timeout_s is None else timeout_s:g}"
            f" s: most likely a compile was interrupted and left a stale 'lock' file under "
            f"{extension_cache()}/<python>_<device>/logei_fused_ext/. The search goes on with botorch's pure-Python "
            "path (same results, slower); delete that lock file to get the fused kernel back.",
            RuntimeWarning, stacklevel=2)
        return False
