"""Hook storage shared by tensors and graph nodes: handles that unregister a hook."""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable


class RemovableHandle:
    """Returned by every ``register_*hook``; ``remove()`` unregisters the hook.

    >>> w = engine.ones(1, requires_grad=True)
    >>> h = w.register_hook(lambda g: g * 10); h.remove()
    >>> w.sum().backward(); w.grad
    tensor([1.])
    """

    __slots__ = ("_store", "id")
    _ids = itertools.count()

    def __init__(self, store: dict) -> None:
        self._store = weakref.ref(store) if isinstance(store, HookDict) else (lambda: store)
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        store = self._store()
        if store is not None:
            store.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class HookDict(dict):
    """A dict that can be weakly referenced, so handles never keep hooks alive."""

    __slots__ = ("__weakref__",)


def add_hook(store: HookDict, fn: Callable) -> RemovableHandle:
    """Register ``fn`` in ``store`` and return the handle that removes it."""
    handle = RemovableHandle(store)
    store[handle.id] = fn
    return handle
