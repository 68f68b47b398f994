"""Traffic for the lab tests, run in a namespace (ip netns exec NS python3 lab_traffic.py ...):

  serve PORT BYTES         TCP server: sends BYTES to each connection, then closes it;
                           echoes what a client sends first if it starts with "echo"
  bulk HOST PORT IDLE_S    client: reads until the end or IDLE_S seconds without data;
                           prints JSON {"bytes", "seconds", "complete"}
  chat HOST PORT N GAP_S   client: N messages of 100 bytes, GAP_S apart, each echoed;
                           prints JSON {"echoed", "seconds"}
"""
import json
import socket
import sys
import threading
import time


def serve(port, nbytes):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(64)
    block = b"x" * 65536

    def handle(conn):
        with conn:
            conn.settimeout(30)
            try:
                first = conn.recv(4, socket.MSG_PEEK)
                if first != b"echo":
                    conn.recv(4)  # the client's hello: the close must not find it unread
                else:
                    while True:
                        data = conn.recv(4096)
                        if not data:
                            return
                        conn.sendall(data)
                left = nbytes
                while left > 0:
                    n = conn.send(block[:min(left, len(block))])
                    left -= n
                conn.shutdown(socket.SHUT_WR)
                conn.recv(1)
            except OSError:
                pass

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def bulk(host, port, idle):
    start = time.monotonic()
    got = 0
    complete = False
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(b"bulk")
        s.settimeout(idle)
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    complete = True
                    break
                got += len(data)
        except OSError:
            pass
    print(json.dumps({"bytes": got, "seconds": time.monotonic() - start, "complete": complete}))


def chat(host, port, n, gap):
    start = time.monotonic()
    echoed = 0
    with socket.create_connection((host, port), timeout=10) as s:
        s.settimeout(5)
        try:
            for i in range(n):
                msg = b"echo" + bytes([65 + i % 26]) * 96
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    data = s.recv(len(msg) - len(got))
                    if not data:
                        raise OSError("closed")
                    got += data
                echoed += 1
                time.sleep(gap)
        except OSError:
            pass
    print(json.dumps({"echoed": echoed, "seconds": time.monotonic() - start}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "serve":
        serve(int(args[0]), int(args[1]))
    elif cmd == "bulk":
        bulk(args[0], int(args[1]), float(args[2]))
    elif cmd == "chat":
        chat(args[0], int(args[1]), int(args[2]), float(args[3]))
    else:
        sys.exit(__doc__)
