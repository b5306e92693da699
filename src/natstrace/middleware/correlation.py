"""The correlation middleware: ``Nats-Msg-Id``, ``Correlation-Id`` and ``Causation-Id``.

On the way out a message gets its identity (the caller's ``Nats-Msg-Id`` is
kept), the workflow it belongs to and the message that caused it. (On the way
in, the handled message's IDs are made current by its delivery:
:mod:`natstrace.middleware.delivery`.)
"""

from __future__ import annotations

from collections.abc import Awaitable, MutableMapping

from natstrace.client.headers import CAUSATION_ID, CORRELATION_ID, MSG_ID
from natstrace.middleware.contract import OutgoingMessage, PublishApp
from natstrace.tracing import correlation
from natstrace.tracing.correlation import check_id, new_message_id

__all__ = ["PublishCorrelation", "stamp_ids"]


def stamp_ids(headers: MutableMapping[str, str]) -> tuple[str, str, str | None]:
    """Put the ID headers of a message about to be sent (or stored to be sent later)
    into ``headers``; return its message, correlation and causation IDs.

    The caller's values are kept (``headers`` as :func:`~.headers.copy_outgoing`
    made it, under the contract's names). Else: a fresh ``Nats-Msg-Id``; the
    current correlation's ID, else the message's own, as ``Correlation-Id``; the
    handled message's ID, if any, as ``Causation-Id``.

    Raises:
        InvalidIdError: a value the caller gave is outside the ID charset (it could
            break the header block or smuggle another header); nothing is sent.
    """
    given_id = headers.get(MSG_ID)
    message_id = check_id(given_id, MSG_ID) if given_id is not None else new_message_id()
    headers[MSG_ID] = message_id
    ambient = correlation.current()

    given_correlation = headers.get(CORRELATION_ID)
    if given_correlation is not None:
        correlation_id = check_id(given_correlation, CORRELATION_ID)
    elif ambient is not None and ambient.correlation_id:
        correlation_id = ambient.correlation_id
    else:
        correlation_id = message_id
    headers[CORRELATION_ID] = correlation_id

    given_cause = headers.get(CAUSATION_ID)
    causation_id = ambient.message_id if ambient is not None else None
    if given_cause is not None:
        causation_id = check_id(given_cause, CAUSATION_ID)
    if causation_id is not None:
        headers[CAUSATION_ID] = causation_id
    return message_id, correlation_id, causation_id


class PublishCorrelation:
    """Fills the ID headers of an outgoing message (:func:`stamp_ids`).

    Raises :class:`~natstrace.tracing.correlation.InvalidIdError` (before anything is
    sent) when the caller supplied one of these headers with a value outside the ID
    charset.
    """

    def __init__(self, app: PublishApp) -> None:
        self.app = app

    def __call__(self, message: OutgoingMessage) -> Awaitable[object]:
        # Not a coroutine: nothing to do after the next app, so its awaitable is
        # returned as is (one coroutine less per message).
        message.message_id, message.correlation_id, message.causation_id = stamp_ids(
            message.headers
        )
        return self.app(message)
