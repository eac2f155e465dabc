#!/usr/bin/env python3
"""A tiny home app for the tests: answers every request on HTTP and HTTPS
with who it is, the TCP peer it saw and the forwarding headers it got
(GET /big-header/N: also a response header X-Big of N bytes);
a POST also with the length and SHA-256 of the body it read.

usage: echo.py ADDR[,ADDR...] LABEL CERT KEY [HTTP_PORT HTTPS_PORT]
An ADDR with a ':' is IPv6 ("::" is every IPv6 address), served on an
IPv6-only socket, so "0.0.0.0,::" listens on both families."""
import hashlib
import http.server
import socket
import socketserver
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = "home=%s peer=%s xff=%s host=%s\n" % (
            self.server.label, self.client_address[0],
            self.headers.get("X-Forwarded-For", "-"),
            self.headers.get("Host", "-"))
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        if self.path.startswith("/big-header/"):
            # A response header of that many bytes of value.
            self.send_header("X-Big", "b" * int(self.path.split("/")[2]))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        data = ("home=%s got=%d sha256=%s\n" % (
            self.server.label, len(body),
            hashlib.sha256(body).hexdigest())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server6(Server):
    address_family = socket.AF_INET6

    def server_bind(self):
        # Only IPv6: an IPv4 listener may hold the same port.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        super().server_bind()


def main():
    addrs, label, cert, key = sys.argv[1:5]
    http_port, https_port = (int(p) for p in (sys.argv[5:7] or (8080, 8443)))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    servers = []
    for addr in addrs.split(","):
        kind = Server6 if ":" in addr else Server
        plain = kind((addr, http_port), Handler)
        tls = kind((addr, https_port), Handler)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        plain.label = tls.label = label
        servers += [plain, tls]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    servers[0].serve_forever()


main()
