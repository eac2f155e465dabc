#!/usr/bin/env python3
"""Long-lived streams for the tests, both ends.

serve ADDR CERT KEY [HTTP_PORT HTTPS_PORT]: a home app on ADDR (default
ports 8080 and 8443, TLS on the second) that answers GET /sse with
Server-Sent Events and GET /ws with a WebSocket (RFC 6455 handshake), and
on either pushes one event a second: "SEQ" counting from 1, until the
connection closes; GET /ka answers "ok" and keeps the connection for the
next request. Prints "ready" once both ports listen.

silent ADDR [HTTP_PORT HTTPS_PORT]: a home that accepts TCP on both ports
and never sends a byte; prints "ready", then one line "accepted N" per
hundred connections.

watch KIND URL_HOST PORT TLS: a visitor on one TCP connection (the
gateway's address in GATEWAY): KIND sse or ws, TLS 0 or 1 (SNI URL_HOST,
certificate not checked: the home's is self-signed). Prints each event's
SEQ as it arrives. Never reconnects. On SIGTERM prints "stopped
events=N" and exits 0 if the events were 1..N in order on that one
connection; exit 1 with the reason if the connection closed or an event
was missing.

hold KIND HOST PORT COUNT SOURCES: opens COUNT connections to the
gateway (GATEWAY, an IPv4 or IPv6 address) from the comma-separated
source addresses in turn, KIND http (sends a GET for HOST, reads
nothing), idle (sends a GET, then keeps the answered connection idle)
or tls (sends a ClientHello with SNI HOST), holds them, prints "held N
open" once all
were tried (N still open a second later), then sleeps until killed.
"""
import base64
import hashlib
import os
import re
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

SSE_EVENT = re.compile(rb"data: ([0-9]+)\n\n")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B85"


class Push(socketserver.StreamRequestHandler):
    def handle(self):
        head = b""
        while True:
            while b"\r\n\r\n" not in head:
                chunk = self.request.recv(4096)
                if not chunk:
                    return
                head += chunk
            first, head = head.split(b"\r\n\r\n", 1)
            lines = first.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            if path != "/ka":
                break
            # A plain answer on a connection kept alive for the next one.
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                                 b"\r\nok\n")
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if path == "/ws":
            key = headers.get("sec-websocket-key", "")
            accept = base64.b64encode(hashlib.sha1(
                (key + WS_GUID).encode()).digest()).decode()
            self.request.sendall((
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                % accept).encode())
            frame = lambda s: bytes([0x81, len(s)]) + s
        else:
            self.request.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n")
            frame = lambda s: b"data: " + s + b"\n\n"
        seq = 1
        try:
            while True:
                self.request.sendall(frame(str(seq).encode()))
                seq += 1
                time.sleep(1)
        except OSError:
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(addr, cert, key, http_port=8080, https_port=8443):
    plain = Server((addr, int(http_port)), Push)
    tls = Server((addr, int(https_port)), Push)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    threading.Thread(target=tls.serve_forever, daemon=True).start()
    print("ready", flush=True)
    plain.serve_forever()


def silent(addr, http_port=8080, https_port=8443):
    held = []
    lock = threading.Lock()

    def take(port):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, int(port)))
        s.listen(4096)
        while True:
            c, _ = s.accept()
            with lock:
                held.append(c)
                if len(held) % 100 == 0:
                    print("accepted %d" % len(held), flush=True)

    threading.Thread(target=take, args=(https_port,), daemon=True).start()
    print("ready", flush=True)
    take(http_port)


def watch(kind, host, port, use_tls):
    gateway = os.environ["GATEWAY"]
    sock = socket.create_connection((gateway, int(port)), timeout=30)
    if use_tls == "1":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=host)
    seen = [0]

    def stop(*_):
        print("stopped events=%d" % seen[0], flush=True)
        os._exit(0 if seen[0] > 0 else 1)

    signal.signal(signal.SIGTERM, stop)
    path = "/ws" if kind == "ws" else "/sse"
    extra = ""
    if kind == "ws":
        extra = ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: %s\r\n"
                 % base64.b64encode(os.urandom(16)).decode())
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n"
                  % (path, host, extra)).encode())
    buf = b""

    def more():
        nonlocal buf
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            fail("no event in 30 s")
        if not chunk:
            fail("connection closed after %d events" % seen[0])
        buf += chunk

    def fail(why):
        print("failed: %s" % why, flush=True)
        os._exit(1)

    while b"\r\n\r\n" not in buf:
        more()
    head, buf = buf.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n")[0]
    want = b" 101 " if kind == "ws" else b" 200 "
    if want not in status + b" ":
        fail("answer %r" % status)
    while True:
        if kind == "ws":
            while len(buf) < 2 or len(buf) < 2 + buf[1]:
                more()
            n = buf[1]
            event, buf = buf[2:2 + n], buf[2 + n:]
        else:
            # nginx may pass the stream on in chunked encoding: the
            # chunk sizes between events are skipped.
            m = SSE_EVENT.search(buf)
            while not m:
                more()
                m = SSE_EVENT.search(buf)
            event, buf = m.group(1), buf[m.end():]
        if int(event) != seen[0] + 1:
            fail("event %s after %d" % (event.decode(), seen[0]))
        seen[0] += 1
        print(seen[0], flush=True)


def hold(kind, host, port, count, sources):
    gateway = os.environ["GATEWAY"]
    sources = sources.split(",")
    hello = None
    if kind == "tls":
        # A real ClientHello with SNI, from Python's own TLS stack.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname=host)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = out.read()
    else:
        # http: a request the home never answers; idle: one it answers,
        # after which the connection stays open (keep-alive), idle.
        hello = ("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode()
    held = []
    for i in range(int(count)):
        s = socket.socket(socket.AF_INET6 if ":" in gateway else socket.AF_INET)
        s.bind((sources[i % len(sources)], 0))
        s.settimeout(5)
        try:
            s.connect((gateway, int(port)))
            s.sendall(hello)
            held.append(s)
        except OSError:
            s.close()
    time.sleep(1)
    alive = 0
    for s in held:
        s.setblocking(False)
        try:
            if kind == "idle":
                # Its answer read; open while no end of stream comes.
                while s.recv(65536):
                    pass
            else:
                s.recv(1)  # an answer or the end: not held
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    print("held %d open" % alive, flush=True)
    while True:
        time.sleep(60)


def main():
    verb, args = sys.argv[1], sys.argv[2:]
    {"serve": serve, "silent": silent, "watch": watch, "hold": hold}[verb](*args)


main()
