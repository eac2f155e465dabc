#!/usr/bin/env python3
"""peer.py ADDR PORT LABEL: a TCP and a UDP service on ADDR:PORT that answer
every connection (TCP) and every datagram (UDP) with one line,
"LABEL tcp|udp peer=ADDRESS:PORT", the peer address the kernel gave the
socket. The UDP socket is bound to ADDR as given (0.0.0.0: any address, so
the reply's source address is chosen by the kernel's routing, as most UDP
servers do). Prints "ready" once both listen; runs until killed."""
import socket
import sys
import threading


def tcp(addr, port, label):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    return s


def tcp_loop(s, label):
    while True:
        c, peer = s.accept()
        try:
            c.sendall(f"{label} tcp peer={peer[0]}:{peer[1]}\n".encode())
        finally:
            c.close()


def udp_loop(u, label):
    while True:
        _, peer = u.recvfrom(2048)
        u.sendto(f"{label} udp peer={peer[0]}:{peer[1]}\n".encode(), peer)


def main():
    if len(sys.argv) != 4:
        print("usage: peer.py ADDR PORT LABEL", file=sys.stderr)
        sys.exit(2)
    addr, port, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    s = tcp(addr, port, label)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, port))
    threading.Thread(target=tcp_loop, args=(s, label), daemon=True).start()
    print("ready", flush=True)
    udp_loop(u, label)


if __name__ == "__main__":
    main()
