#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""UDP segmentation offload from the application, checked datagram by datagram at the receiver.

The sender hands the kernel 64 KB buffers with UDP_SEGMENT (setsockopt(SOL_UDP, 103, SIZE)): each
buffer is cut into SIZE-byte datagrams and a shorter last one, so a tunnel may be given one GSO packet of
~54 datagrams to split.  Every datagram carries its number and its length and is filled with a pattern
of its number; each buffer's last datagram has a different length.  The receiver knows the whole plan
and checks that every datagram arrives exactly once, with its length and its bytes.  The sender is
paced (one buffer every GAP seconds) and the receiver's buffer is large, so no datagram has a reason
to be lost: any loss fails (the receiver also reports what its own socket dropped, SO_RXQ_OVFL).

Over IPv6 the receiver also says how many of the missing datagrams have a UDP checksum that computes to
zero, which RFC 768/8200 say is sent as 0xFFFF: a sender writing 0x0000 instead makes Linux drop exactly
those (Udp6InCsumErrors), since a zero UDP checksum is illegal in IPv6.

  udp_gso_check.py recv PORT BUFFERS SIZE [TIMEOUT]   # prints a summary; exit 0 when all arrived intact
  udp_gso_check.py send HOST PORT BUFFERS SIZE [GAP]
"""
import ipaddress
import socket
import struct
import sys
import time

SOL_UDP, UDP_SEGMENT = 17, 103
SO_RXQ_OVFL = 40
MAX_BUF = 65000		# below 65507, the largest UDP payload over IPv4
HDR = struct.Struct('!IH')	# datagram number, its length


def plan(buffers, size):
    """Per buffer, the lengths of its datagrams: full ones and a last one whose length varies."""
    full = MAX_BUF // size - 1
    out = []
    for b in range(buffers):
        last = HDR.size + (b * 379) % (size - HDR.size) + 1
        out.append([size] * full + [last])
    return out


def datagram(num, length):
    body = HDR.pack(num, length)
    return (body + num.to_bytes(4, 'big') * (length // 4 + 1))[:length]


def udp6_csum_is_zero(src, dst, sport, dport, payload):
    """True when the datagram's UDP checksum over the IPv6 pseudo-header folds to zero (sent as 0xFFFF)."""
    udp = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    b = src + dst + struct.pack('!I3xB', len(udp), socket.IPPROTO_UDP) + udp + b'\0' * (len(udp) % 2)
    s = sum(struct.unpack(f'!{len(b) // 2}H', b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s == 0xffff


def send(host, port, buffers, size, gap):
    fam = socket.AF_INET6 if ':' in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(SOL_UDP, UDP_SEGMENT, size)
    s.connect((host, port))
    num = 0
    for lengths in plan(buffers, size):
        buf = b''.join(datagram(num + i, n) for i, n in enumerate(lengths))
        num += len(lengths)
        if s.send(buf) != len(buf):
            print('short send')
            return 1
        time.sleep(gap)
    print(f'sent {num} datagrams in {buffers} buffers of up to {MAX_BUF} bytes, segment size {size}')
    return 0


def recv(port, buffers, size, timeout):
    want = [n for lengths in plan(buffers, size) for n in lengths]
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    # SO_RCVBUFFORCE (root): the burst of a whole buffer must fit whatever rmem_max says.
    s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
    # SO_RXQ_OVFL: the socket's own drop count arrives with each datagram, telling a loss here from one
    # upstream.
    s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
    # The destination address, for the missing datagrams' checksums.
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    s.bind(('::', port))
    print('ready', flush=True)
    seen = bytearray(len(want))
    bad = dups = got = own_drops = 0
    first_bad = ''
    dst = None
    flows = set()	# (source address, source port, destination address) of the intact datagrams
    end = time.monotonic() + timeout
    s.settimeout(timeout)
    while got < len(want):
        s.settimeout(max(end - time.monotonic(), 0.01) if got == 0 else 3)
        try:
            d, anc, _, src = s.recvmsg(70000, 128)
        except socket.timeout:
            break
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(data) >= 4:
                own_drops = struct.unpack('I', data[:4])[0]
            if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO and len(data) >= 16:
                dst = data[:16]
        num = HDR.unpack_from(d)[0] if len(d) >= HDR.size else len(want)
        if num >= len(want) or d != datagram(num, want[num]):
            bad += 1
            first_bad = first_bad or f'datagram of {len(d)} bytes: {d[:12].hex()}'
            continue
        if seen[num]:
            dups += 1
            continue
        seen[num] = 1
        got += 1
        flows.add((src[0], src[1], dst))
    missing = len(want) - got
    zero = zero_csum_missing(want, seen, flows, port) if missing else None
    print(f'{got} of {len(want)} datagrams intact, {missing} missing, {dups} duplicated, {bad} bad, '
          f'{own_drops} dropped by this socket'
          + (f' (first bad: {first_bad})' if first_bad else '')
          + (f' (first missing: #{seen.index(0)})' if missing else '')
          + (f' ({zero} missing with a UDP checksum of 0xffff)' if zero is not None else ''))
    return 0 if missing == 0 and dups == 0 and bad == 0 else 1


def zero_csum_missing(want, seen, flows, port):
    """How many missing datagrams have a zero-folding IPv6 UDP checksum; None unless one IPv6 flow."""
    if len(flows) != 1:
        return None
    addr, sport, dst = next(iter(flows))
    src = ipaddress.IPv6Address(addr.split('%')[0])
    if src.ipv4_mapped:
        return None
    return sum(udp6_csum_is_zero(src.packed, dst, sport, port, datagram(n, want[n]))
               for n in range(len(want)) if not seen[n])


if __name__ == '__main__':
    a = sys.argv
    if len(a) in (5, 6) and a[1] == 'recv':
        sys.exit(recv(int(a[2]), int(a[3]), int(a[4]), float(a[5]) if len(a) == 6 else 20))
    elif len(a) in (6, 7) and a[1] == 'send':
        sys.exit(send(a[2], int(a[3]), int(a[4]), int(a[5]), float(a[6]) if len(a) == 7 else 0.005))
    else:
        sys.exit(__doc__)
