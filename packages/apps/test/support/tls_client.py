"""A client of the apps over TLS, written with Python's own ssl module: it
checks the server's certificate against the test CA and the name
localhost, as any TLS client does, then speaks one app's protocol. One JSON
object per line on stdout says what it saw.

  tls_client.py HOST PORT CA echo   (stdin: the bytes to send)
  tls_client.py HOST PORT CA chat NICK LINE
  tls_client.py HOST PORT CA files FILE
"""
import hashlib
import json
import os
import socket
import ssl
import struct
import sys

host, port, ca, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
context = ssl.create_default_context(cafile=ca)


def say(**fields):
    print(json.dumps(fields), flush=True)


def read_exactly(conn, size):
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError(f"the server closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def read_lines_until(conn, buffered, wanted):
    """Reads lines until one equals `wanted`; returns them and what is left."""
    lines = []
    while True:
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            lines.append(line.decode())
            if lines[-1] == wanted:
                return lines, buffered
        chunk = conn.recv(65536)
        if not chunk:
            return lines, None
        buffered += chunk


def send_frame(conn, kind, body):
    conn.sendall(struct.pack(">IB", len(body) + 1, kind) + body)


def read_frame(conn):
    length, kind = struct.unpack(">IB", read_exactly(conn, 5))
    return kind, read_exactly(conn, length - 1)


with socket.create_connection((host, port), timeout=20) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as conn:
        say(event="handshake", version=conn.version(), peer=conn.getpeercert()["subject"][0][0][1])
        if mode == "echo":
            data = sys.stdin.buffer.read()
            conn.sendall(data)
            back = read_exactly(conn, len(data))
            say(event="echo", same=back == data, size=len(back))
        elif mode == "chat":
            nick, line = sys.argv[5], sys.argv[6]
            seen, rest = read_lines_until(conn, b"", "* choose a nickname with /nick NAME (type /help for commands)")
            conn.sendall(f"/nick {nick}\n".encode())
            more, rest = read_lines_until(conn, rest, f"* you joined lobby")
            conn.sendall(f"{line}\n/quit\n".encode())
            last, _ = read_lines_until(conn, rest, "* bye")
            say(event="chat", lines=seen + more + last)
        elif mode == "files":
            path = sys.argv[5]
            with open(path, "rb") as file:
                content = file.read()
            offer = {"type": "upload", "name": os.path.basename(path), "size": len(content),
                     "sha256": hashlib.sha256(content).hexdigest()}
            send_frame(conn, 1, json.dumps(offer).encode())
            kind, body = read_frame(conn)
            accept = json.loads(body)
            if accept.get("type") != "accept":
                say(event="refused", reply=accept)
                sys.exit(1)
            for at in range(accept["offset"], len(content), 65536):
                send_frame(conn, 2, content[at:at + 65536])
            kind, body = read_frame(conn)
            say(event="files", reply=json.loads(body))
