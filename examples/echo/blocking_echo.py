# The classic echo server, in blocking Python: one client at a time.
import socket

with socket.create_server(("127.0.0.1", 7020)) as server:
    while True:
        conn, _ = server.accept()          # waits for a client
        with conn:
            while data := conn.recv(4096):  # waits for bytes; b"" at end
                conn.sendall(data)          # waits until the kernel took them
