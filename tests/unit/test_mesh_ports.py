"""The mesh script sees a service's port as open only once the service listens on it."""

from __future__ import annotations

import socket

from scripts.mesh import listening


def test_listening_reads_the_kernel_tables() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    assert not listening(port)  # bound is not listening
    server.listen()
    assert listening(port)
    client = socket.create_connection(("127.0.0.1", port))
    peer, _ = server.accept()
    # A connected socket's own port is not a listening one.
    assert not listening(client.getsockname()[1])
    for s in (client, peer, server):
        s.close()
    assert not listening(port)
