#!/usr/bin/env python3
# A ProxyCommand for the connect-abort tests: relays stdin to HOST:PORT at
# RATE bytes per second, and stops passing anything on (while keeping the
# connection open) after STOP_AFTER bytes unless that is 0. What comes back
# is passed at full speed.
import os
import socket
import sys
import threading
import time

host, port, rate, stop_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sock = socket.create_connection((host, port))


def back():
    while True:
        data = sock.recv(65536)
        if not data:
            os._exit(0)
        os.write(1, data)


threading.Thread(target=back, daemon=True).start()
sent = 0
start = time.monotonic()
chunk = max(1024, min(16384, rate // 20))
while True:
    if stop_after and sent >= stop_after:
        time.sleep(3600)
        continue
    data = os.read(0, chunk)
    if not data:
        sock.shutdown(socket.SHUT_WR)
        time.sleep(3600)
    sock.sendall(data)
    sent += len(data)
    # Sleeps until the average rate is back to RATE.
    ahead = sent / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
