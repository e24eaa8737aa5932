#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Byte-exact bulk TCP stream: a long pseudo-random stream, checked byte for byte, with its longest gap.

tcp_stream_check.py checks small messages for a few seconds; this one checks a bulk stream for as long
as a rekey takes, or across an agent being killed: a dropped, duplicated, reordered or altered byte
anywhere shows, and so does the longest time without data (a stall the tunnel recovered from).

  bulk_stream.py serve PORT                  # long-lived sender: per connection, the stream asked for
  bulk_stream.py check HOST PORT SECS RATE   # receiver: SECS seconds at up to RATE bytes/s (0: no limit)

check prints "N bytes as sent in T s, longest gap G s" and exits 0, or says where the stream differs (or
that it ended early) and exits 1.  The server sends 64 KB writes, so the tunnel sees bursts of full-size
segments even when paced.
"""
import random
import socket
import sys
import time

import stream_server  # selftests/, beside this script

CHUNK = 1 << 20		# the pattern is generated, on both ends, in chunks of this size
WRITE = 1 << 16
SEED = 0x78776721


class Pattern:
    """The stream's bytes, generated chunk by chunk from a fixed seed, consumed in any slice sizes."""

    def __init__(self):
        self.rng = random.Random(SEED)
        self.buf = b''
        self.pos = 0

    def take(self, n):
        while len(self.buf) - self.pos < n:
            self.buf = self.buf[self.pos:] + self.rng.randbytes(CHUNK)
            self.pos = 0
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out


def serve(port):
    stream_server.serve_forever(port, serve_one)


def serve_one(conn):
    try:
        conn.settimeout(60)
        req = b''
        while not req.endswith(b'\n') and len(req) < 64:
            d = conn.recv(64)
            if not d:
                return
            req += d
        secs, rate = (float(x) for x in req.split())
        pat = Pattern()
        start = time.monotonic()
        sent = 0
        while True:
            now = time.monotonic() - start
            if now >= secs:
                break
            if rate > 0 and sent > rate * now:
                time.sleep(min(sent / rate - now, 0.05))
                continue
            conn.sendall(pat.take(WRITE))
            sent += WRITE
        conn.shutdown(socket.SHUT_WR)
        conn.settimeout(5)
        conn.recv(1)	# until the receiver closes: a clean end is the receiver's to see
    except (OSError, ValueError):
        pass
    finally:
        conn.close()


def check(host, port, secs, rate):
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(30)
    s.sendall(f'{secs} {rate}\n'.encode())
    pat = Pattern()
    got = 0
    start = last = time.monotonic()
    gap = 0.0
    try:
        while True:
            d = s.recv(1 << 18)
            now = time.monotonic()
            if not d:
                break
            gap = max(gap, now - last)
            last = now
            want = pat.take(len(d))
            if d != want:
                off = next(i for i in range(len(d)) if d[i] != want[i])
                print(f'byte {got + off} differs (got {d[off:off + 8].hex()}, want {want[off:off + 8].hex()}) '
                      f'after {now - start:.1f} s, longest gap {gap:.2f} s')
                return 1
            got += len(d)
    except OSError as e:
        print(f'{got} bytes as sent, then {e} after {time.monotonic() - start:.1f} s, longest gap {gap:.2f} s')
        return 1
    finally:
        s.close()
    took = time.monotonic() - start
    if took < secs - 0.5 or got == 0:
        print(f'stream ended early: {got} bytes in {took:.1f} s of {secs}')
        return 1
    print(f'{got} bytes as sent in {took:.1f} s, longest gap {gap:.2f} s')
    return 0


if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'serve':
        serve(int(sys.argv[2]))
    elif len(sys.argv) == 6 and sys.argv[1] == 'check':
        sys.exit(check(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])))
    else:
        sys.exit(__doc__)
