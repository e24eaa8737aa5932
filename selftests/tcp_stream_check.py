#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Byte-exact TCP stream check: small numbered messages one way while the other way is saturated.

Small segments arriving while the receiving socket is busy get coalesced by TCP; a receive path
that leaves an skb inconsistent corrupts exactly those, with every checksum good (found with
generic XDP). iperf3 does not compare payload, so this does.

  tcp_stream_check.py serve PORT          # long-lived: per connection, 1000 16-byte messages
  tcp_stream_check.py check HOST PORT     # exit 0 when all 16000 bytes arrive as sent
"""
import socket
import sys
import threading
import time

import stream_server  # selftests/, beside this script

COUNT, GAP = 1000, 0.002


def message(i):
    return i.to_bytes(8, 'big') * 2


def drain(conn):
    try:
        while conn.recv(1 << 16):
            pass
    except OSError:
        pass


def serve(port):
    stream_server.serve_forever(port, serve_one)


def serve_one(conn):
    threading.Thread(target=drain, args=(conn,), daemon=True).start()
    try:
        for i in range(COUNT):
            conn.sendall(message(i))
            time.sleep(GAP)
        conn.shutdown(socket.SHUT_WR)
        time.sleep(1)
    except OSError:
        pass
    conn.close()


def check(host, port):
    s = socket.create_connection((host, port), timeout=20)
    stop = threading.Event()

    def blast():
        buf = b'x' * 65536
        try:
            while not stop.is_set():
                s.sendall(buf)
        except OSError:
            pass

    threading.Thread(target=blast, daemon=True).start()
    got = bytearray()
    want = b''.join(message(i) for i in range(COUNT))
    while len(got) < len(want):
        d = s.recv(1 << 16)
        if not d:
            break
        got += d
    stop.set()
    s.close()
    if got == want:
        print(f'{len(got)} bytes as sent')
        return 0
    bad = [m for m in range(COUNT) if got[16 * m:16 * m + 16] != want[16 * m:16 * m + 16]]
    print(f'{len(got)} of {len(want)} bytes; {len(bad)} messages differ, first: '
          + ', '.join(f'#{m} {bytes(got[16 * m:16 * m + 16]).hex()}' for m in bad[:3]))
    return 1


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'serve':
        serve(int(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == 'check':
        sys.exit(check(sys.argv[2], int(sys.argv[3])))
    else:
        sys.exit(__doc__)
