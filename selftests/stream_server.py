# SPDX-License-Identifier: GPL-2.0
"""The listening half the stream checkers share (tcp_stream_check.py, bulk_stream.py, path_stream.py)."""
import socket
import threading


def serve_forever(port, serve_one):
    """Accepts on [::]:port (IPv4 too) forever; each connection gets serve_one(conn) on its own thread."""
    ls = socket.socket(socket.AF_INET6)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('::', port))
    ls.listen(8)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()
