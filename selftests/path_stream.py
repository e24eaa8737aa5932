#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A steady, byte-exact TCP stream whose delivery times are recorded, for path failover tests.

  path_stream.py serve PORT                 # long-lived: per connection, about 1 MB/s until closed
  path_stream.py client HOST PORT STOPFILE  # receives until STOPFILE exists; prints a JSON report
  path_stream.py maxgap REPORT T0 T1        # largest gap (ms) in delivery overlapping [T0, T1]
  path_stream.py iperfgap JSON START T0 T1  # the same from iperf3 -J intervals (started at START)

The report: bytes received, whether every byte was as sent, the error if the connection broke
(a reset is one), and every gap of more than 50 ms between two deliveries as [start, seconds],
start in time.time() (the shell's `date +%s.%N`).
"""
import json
import socket
import sys
import time

import stream_server  # selftests/, beside this script

PERIOD = 251                      # byte k of the stream is k % 251: a lost or shifted byte shows
CHUNK, GAP = 4096, 0.004          # about 1 MB/s, far below what either path carries
PATTERN = bytes(i % PERIOD for i in range(PERIOD + (1 << 16)))


def serve(port):
    stream_server.serve_forever(port, serve_one)


def serve_one(conn):
    off = 0
    try:
        while True:
            start = off % PERIOD
            conn.sendall(PATTERN[start:start + CHUNK])
            off += CHUNK
            time.sleep(GAP)
    except OSError:
        pass
    conn.close()


def client(host, port, stopfile):
    import os
    rep = {'bytes': 0, 'exact': True, 'error': None, 'gaps': []}
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(0.5)
    last = time.time()
    try:
        while not os.path.exists(stopfile):
            try:
                d = s.recv(1 << 16)
            except socket.timeout:
                continue
            now = time.time()
            if not d:
                rep['error'] = 'closed by the server'
                break
            if now - last > 0.05:
                rep['gaps'].append([last, now - last])
            last = now
            start = rep['bytes'] % PERIOD
            if d != PATTERN[start:start + len(d)]:
                rep['exact'] = False
            rep['bytes'] += len(d)
    except OSError as e:
        rep['error'] = str(e)
    s.close()
    print(json.dumps(rep))
    return 0 if rep['exact'] and not rep['error'] else 1


def maxgap(path, t0, t1):
    with open(path) as f:
        rep = json.load(f)
    gaps = [g for s, g in rep['gaps'] if s <= t1 and s + g >= t0]
    print(int(1000 * max(gaps, default=0)))
    return 0


def iperfgap(path, start, t0, t1):
    """Empty intervals in a row, plus the two around them that may be partly empty: an upper bound."""
    with open(path) as f:
        rep = json.load(f)
    intervals = [iv['sum'] for iv in rep.get('intervals', [])]
    length = max((s['end'] - s['start'] for s in intervals), default=0.1)  # the last may be cut short
    worst = run = 0
    for s in intervals:
        if start + s['start'] > t1 or start + s['end'] < t0 or s['bytes']:
            run = 0
            continue
        run += 1
        worst = max(worst, run)
    print(int(1000 * (worst + 2) * length) if worst else int(2000 * length))
    return 0


if __name__ == '__main__':
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == 'serve':
        serve(int(a[1]))
    elif len(a) == 4 and a[0] == 'client':
        sys.exit(client(a[1], int(a[2]), a[3]))
    elif len(a) == 4 and a[0] == 'maxgap':
        sys.exit(maxgap(a[1], float(a[2]), float(a[3])))
    elif len(a) == 5 and a[0] == 'iperfgap':
        sys.exit(iperfgap(a[1], float(a[2]), float(a[3]), float(a[4])))
    else:
        sys.exit(__doc__)
