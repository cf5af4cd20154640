"""Daphne-specific shortcuts on the fan-out's hot path (one live event to N sockets).

Under Daphne an ASGI ``websocket.send`` costs, per frame and per connection: autobahn
framing the message again, autobahn evaluating the arguments of a debug line (which runs
``click.style`` whenever click is installed, as Celery installs it), and Twisted buffering
the bytes and registering the socket for writing (an ``epoll_ctl``), then writing it on the
next reactor turn and unregistering it (another ``epoll_ctl``). On a machine where system
calls are dear those two ``epoll_ctl`` calls were the largest single cost of a fan-out
(docs/events.md, "Benchmark").

``write_frame`` does what an asyncio transport does instead: when nothing is buffered for the
connection it writes the frame, framed once per event (``LiveEvent.frame``), straight to the
socket with Twisted's own ``writeSomeData``, and only hands Twisted what the socket did not
take. Anything unusual (TLS, compression negotiated, a closing connection, data already
buffered, not Daphne at all) answers False and the caller uses the ordinary ASGI send, so
frame order and Daphne's close handling are untouched.

All of this reads private attributes of Daphne, autobahn and Twisted (pinned in
requirements/base.txt). ``FAST_WS_DIRECT_WRITE`` (core.fast_paths) fences it: when it is off,
or when the installed versions lack one of those attributes (checked once per process: the
classes when this is first used, a connection's own attributes at the first connection),
``daphne_protocol`` answers None, so the consumer sends through Channels, and autobahn's
colouring is left alone. ``transport_backlog`` (the consumer's bound on what a slow reader
makes the server hold) reads Twisted's buffers in either case and answers 0 without them.
"""

import functools
import sys
from typing import Any

import autobahn.util
from autobahn.websocket.protocol import PreparedMessage, WebSocketProtocol, WebSocketServerProtocol
from twisted.internet import abstract, tcp

from core import fast_paths

# What write_frame, transport_backlog and daphne_protocol read of a connection.
_PROTOCOL_ATTRIBUTES = ("state", "_perMessageCompress", "send_queue", "transport")
_TRANSPORT_CLASS_ATTRIBUTES = (
    "TLS",
    "connected",
    "disconnecting",
    "_writeDisconnected",
    "dataBuffer",
    "offset",
    "writeSomeData",
    "write",
)


_NO_REACTOR: Any = object()  # a stand-in: the global reactor is not imported (Daphne picks it)


def _missing_internals() -> list[str]:
    prepared = PreparedMessage(b"", False, False, True)
    missing = [
        *fast_paths.missing_attributes(autobahn.util, ["_HAS_CLICK"]),
        *fast_paths.missing_attributes(WebSocketProtocol, ["STATE_OPEN"]),
        *fast_paths.missing_attributes(prepared, ["payloadHybi"]),
        *fast_paths.missing_attributes(tcp.Server, _TRANSPORT_CLASS_ATTRIBUTES),
        # Set by the constructor of every Twisted transport; a bare one shows it.
        *fast_paths.missing_attributes(
            abstract.FileDescriptor(reactor=_NO_REACTOR), ["_tempDataLen"]
        ),
    ]
    server = sys.modules.get("daphne.server")  # imported only by a Daphne process
    if server is not None:
        missing += fast_paths.missing_attributes(server.Server, ["handle_reply"])
    return missing


DIRECT_WRITE = fast_paths.FastPath(
    setting="FAST_WS_DIRECT_WRITE",
    description="The direct Daphne write (observatory.fanout_daphne)",
    stock="the consumer's ASGI send",
    missing_internals=_missing_internals,
)
_connection_checked = False


def quiet_autobahn_debug_arguments() -> None:
    """Stop autobahn from colouring the arguments of debug lines nobody logs.

    autobahn writes ``self.log.debug("{func} sent {data_len} bytes ...",
    func=hltype(self.sendData), peer=hlval(self.peer), ...)`` on every frame it sends. txaio
    already makes ``debug`` a no-op below its (default ``info``) level, but Python evaluates the
    arguments first: ``hltype``/``hlval`` call ``click.style`` whenever click is importable
    (about 3 us a frame here, a third of that without click). Their only effect is ANSI colour
    in debug output, which Daphne never enables, so we switch the colouring off. (Raising
    txaio's log level would not help: the arguments are built before the level is looked at.)
    Part of the direct-write fast path: nothing is changed when that is off.
    """
    if fast_paths.enabled(DIRECT_WRITE):
        autobahn.util._HAS_CLICK = False  # type: ignore[attr-defined]


def text_frame(text: str) -> bytes:
    """The bytes of an unmasked, uncompressed WebSocket text frame (a server's frame)."""
    prepared = PreparedMessage(text.encode("utf-8"), False, False, True)
    frame: bytes = prepared.payloadHybi
    return frame


def daphne_protocol(send: Any) -> WebSocketServerProtocol | None:
    """The autobahn protocol behind Daphne's ASGI ``send`` callable, for ``write_frame``;
    None when not under Daphne, or when the direct write is off (``DIRECT_WRITE``).

    Daphne hands each application ``functools.partial(server.handle_reply, protocol)``.
    """
    if not fast_paths.enabled(DIRECT_WRITE):
        return None
    if not isinstance(send, functools.partial) or not send.args:
        return None
    if getattr(send.func, "__name__", None) != "handle_reply":
        return None
    protocol = send.args[0]
    if not isinstance(protocol, WebSocketServerProtocol):
        return None
    if not _connection_checked and not _connection_has_internals(protocol):
        return None
    return protocol


def _connection_has_internals(protocol: WebSocketServerProtocol) -> bool:
    """Check the attributes autobahn sets on a connection, once per process, at the first."""
    global _connection_checked
    missing = fast_paths.missing_attributes(protocol, _PROTOCOL_ATTRIBUTES)
    if missing:
        fast_paths.refuse(DIRECT_WRITE, missing)
        return False
    _connection_checked = True
    return True


def transport_backlog(transport: Any) -> int:
    """Bytes a Twisted TCP transport holds unwritten (its ``dataBuffer`` past ``offset``, plus
    the writes not yet joined into it); 0 for anything else."""
    buffered = getattr(transport, "dataBuffer", None)
    offset = getattr(transport, "offset", 0)
    not_yet_buffered = getattr(transport, "_tempDataLen", 0)
    if not isinstance(buffered, bytes | bytearray | memoryview):
        return 0
    if not isinstance(offset, int) or not isinstance(not_yet_buffered, int):
        return 0
    return len(buffered) - offset + not_yet_buffered


def write_frame(
    protocol: WebSocketServerProtocol, frame: bytes, backlog_limit: int | None = None
) -> bool:
    """Write a prepared frame to the connection; False if the ASGI send must do it instead,
    or if more than ``backlog_limit`` bytes wait unsent in the server already."""
    if (
        protocol.state != WebSocketProtocol.STATE_OPEN
        or protocol._perMessageCompress is not None
        or protocol.send_queue
    ):
        return False
    transport: Any = getattr(protocol, "transport", None)
    if (
        transport is None
        or getattr(transport, "TLS", True)
        or not getattr(transport, "connected", False)
        or getattr(transport, "disconnecting", True)
        or getattr(transport, "_writeDisconnected", True)
        or not hasattr(transport, "writeSomeData")
    ):
        return False
    backlog = transport_backlog(transport)
    if backlog:
        if backlog_limit is not None and backlog > backlog_limit:
            return False
        # Bytes queued before this frame go first: let Twisted append it behind them.
        transport.write(frame)
        return True
    # Nothing buffered, so no producer (Daphne's HTTP channel) is paused on our account;
    # ``transport.write`` below pauses it as usual if the socket leaves a lot unwritten.
    written = transport.writeSomeData(frame)
    if not isinstance(written, int) or written < 0:
        # The connection is gone; Twisted notices on its next write and closes it as usual.
        written = 0
    if written < len(frame):
        transport.write(frame[written:])
    return True
