"""Route nats-py's ``Client`` methods through natstrace's middleware chain.

The patch replaces ``publish``, ``request``, ``subscribe``, ``jetstream`` and
``jsm`` on the ``nats.aio.client.Client`` class. Applications keep a real
``Client`` (``isinstance`` and type hints stay true, clients made before the
patch are covered, so are clients made with ``Client()`` + ``connect()``). Each
patched call looks up the client's own :class:`~natstrace.InstrumentedClient`,
built on first use by the installed factory around a
:class:`~natstrace.instrumentor.raw.RawClient`, and lets it do the work: one
implementation, whether a client was wrapped by hand or patched.

Calls pass straight to nats-py when:

- nats-py makes them on behalf of a call already in the chain (``request`` ->
  ``publish``), see :func:`~natstrace.instrumentor.raw.passing_through`;
- the subject is under ``$JS.`` (acknowledgements, flow control), as for a
  wrapped client's replies;
- the client was wrapped explicitly with :func:`natstrace.instrument`
  (:func:`claim`): the wrapper traces it, twice would be once too many.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nats.aio.client import Client

from natstrace.instrumentor.raw import PATCHED_METHODS, RawClient, originals, passing_through

if TYPE_CHECKING:
    from nats.aio.msg import Msg

    from natstrace.client.instrumented import InstrumentedClient

__all__ = ["ClientFactory", "claim", "install", "installed", "uninstall"]

_log = logging.getLogger(__name__)

ClientFactory = Callable[[RawClient], "InstrumentedClient"]
"""Builds the instrumented client a patched client delegates to."""

_INSTRUMENTED = "_natstrace_patched_client"
_CLAIMED = "_natstrace_claimed"
_UNTRACED_PREFIX = "$JS."


class _Installation:
    """One install: each client's delegate is remembered with the install that built it,
    so a client outliving an uninstall/install cycle gets a fresh one."""

    def __init__(self, factory: ClientFactory) -> None:
        self.factory = factory


_lock = threading.Lock()
_current: _Installation | None = None


def installed() -> bool:
    """Whether ``Client`` is patched right now."""
    return _current is not None


def claim(nc: object) -> None:
    """Mark ``nc`` as wrapped by :func:`natstrace.instrument`: the patch leaves it alone."""
    # An object without __dict__ (a test double) is no Client: nothing patched calls it.
    with contextlib.suppress(TypeError):
        vars(nc)[_CLAIMED] = True


def _delegate(client: Client) -> InstrumentedClient | None:
    """The instrumented client to route ``client``'s call through, or ``None`` for nats-py."""
    installation = _current
    if installation is None or passing_through():
        return None
    state = vars(client)
    if state.get(_CLAIMED):
        return None
    entry: tuple[_Installation, InstrumentedClient | None] | None = state.get(_INSTRUMENTED)
    if entry is None or entry[0] is not installation:
        try:
            delegate: InstrumentedClient | None = installation.factory(RawClient(client))
        except Exception:
            # Never raise into the application: this client stays untraced.
            _log.exception("natstrace: could not instrument a nats-py client; it stays untraced")
            delegate = None
        entry = state[_INSTRUMENTED] = (installation, delegate)
    return entry[1]


def _publish(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def publish(
        self: Client,
        subject: str,
        payload: bytes = b"",
        reply: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        delegate = None if subject.startswith(_UNTRACED_PREFIX) else _delegate(self)
        if delegate is None:
            await original(self, subject, payload, reply, headers)
        else:
            await delegate.publish(subject, payload, reply, headers)

    return publish


def _request(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def request(
        self: Client,
        subject: str,
        payload: bytes = b"",
        timeout: float = 0.5,
        old_style: bool = False,
        headers: dict[str, Any] | None = None,
    ) -> Msg:
        delegate = None if subject.startswith(_UNTRACED_PREFIX) else _delegate(self)
        if delegate is None:
            reply: Msg = await original(
                self, subject, payload, timeout=timeout, old_style=old_style, headers=headers
            )
            return reply
        return await delegate.request(
            subject, payload, timeout=timeout, old_style=old_style, headers=headers
        )

    return request


def _subscribe(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def subscribe(self: Client, subject: str, *args: Any, **options: Any) -> Any:
        delegate = _delegate(self)
        if delegate is None:
            return await original(self, subject, *args, **options)
        return await delegate.subscribe(subject, *args, **options)

    return subscribe


def _context(original: Callable[..., Any], name: str) -> Callable[..., Any]:
    # jetstream()/jsm(): the context comes from the delegate (so a JetStream-aware
    # InstrumentedClient is used as is); a plain one is bound to the RawClient view,
    # as nats-py's own calls must not reach the patch.
    @functools.wraps(original)
    def context(self: Client, **options: Any) -> Any:
        delegate = _delegate(self)
        if delegate is None:
            return original(self, **options)
        return getattr(delegate, name)(**options)

    return context


_WRAPPERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "publish": _publish,
    "request": _request,
    "subscribe": _subscribe,
    "jetstream": lambda original: _context(original, "jetstream"),
    "jsm": lambda original: _context(original, "jsm"),
}


def install(factory: ClientFactory) -> None:
    """Patch ``Client``; ``factory`` builds each client's delegate. A second call does nothing."""
    global _current
    with _lock:
        if _current is not None:
            return
        for name in PATCHED_METHODS:
            function = vars(Client)[name]
            originals[name] = function
            setattr(Client, name, _WRAPPERS[name](function))
        _current = _Installation(factory)


def uninstall() -> None:
    """Put nats-py's own functions back (the very same objects). A second call does nothing.

    Subscriptions made while patched keep tracing their messages: their callbacks
    were wrapped when they were made.
    """
    global _current
    with _lock:
        if _current is None:
            return
        for name in PATCHED_METHODS:
            setattr(Client, name, originals.pop(name))
        _current = None
