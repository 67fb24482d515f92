"""Control of Python's cyclic garbage collector around bulk object creation, and of freed C memory.

Reading a basket file creates a list per basket and a string per item: millions of objects
that form no reference cycles. Each time enough new objects pile up, the collector walks the
young ones, and later every tracked object again. On a retail-sized file that tripled the time
spent splitting lines. So the collector is paused while such objects are built. In the
``dmrun`` process the objects made at start-up and the data read are also frozen: moved to
a generation that collections skip. Reference counting still frees them when they are dropped.
"""

from __future__ import annotations

import contextlib
import functools
import gc
from typing import Iterator

# Set by the command line's entry point. When dmrun is imported as a library, freezing would
# also keep alive any garbage cycles of the caller that are pending at that moment.
_freeze = {"enabled": False}


def freeze_startup_objects() -> None:
    """Freeze every object alive now (modules, classes, schemas), and freeze data read later."""
    _freeze["enabled"] = True
    gc.freeze()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Turn the cyclic collector off inside the block, and back on after it if it was on.

    In the ``dmrun`` process the objects built inside are frozen when the block ends;
    otherwise the first collection after it walks them all once.
    """
    enabled = gc.isenabled()
    if _freeze["enabled"]:
        gc.collect()  # so that no garbage cycle pending now is frozen with the new objects
    gc.disable()
    try:
        yield
    finally:
        if _freeze["enabled"]:
            gc.freeze()
        if enabled:
            gc.enable()


def release_free_memory() -> None:
    """Give the C heap's free memory back to the system, where the C library is glibc.

    Joining the chunks of a large table frees the chunks, hundreds of small arrays, but glibc
    keeps the freed heap memory for later use. NumPy takes its large arrays from fresh memory
    maps instead, so without this the freed memory still counted towards the peak.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """Return glibc's ``malloc_trim`` from the symbols already loaded, or None elsewhere (musl, macOS, Windows)."""
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
