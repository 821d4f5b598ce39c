#!/usr/bin/env python3
"""The least CPU a model byte costs on its way through a POC system's hops, on this machine.

  hop_floor.py [--gib 4]

Measures the primitives each hop is made of, in one run, with nothing of ours in the way:
  - a Unix-socket hop and a TCP loopback hop: a sender process writes --gib GiB from one hot
    4 MiB buffer (sendall), a receiver reads them into another (recv_into); the CPU seconds of
    both processes (user + system, from wait4) per GiB. This is the kernel's two copies and its
    socket work, the least any forwarding can cost;
  - AES-128-GCM (`openssl speed -evp aes-128-gcm`, 16 KiB blocks: one TLS record) and memcpy
    (bytearray slice copies of 64 MiB, hot) in GiB/s.
Then composes them (printed as name: value):
  tls_hop_floor_cpu_seconds_per_gib    a TCP hop + encrypt + decrypt + OpenSSL's copy of each
                                       record on both sides (plaintext into and out of its
                                       record buffers)
  poc_path_floor_cpu_seconds_per_gib   three Unix-socket hops (trainer-client job, client
                                       job-client parent, server parent-server job) and one TLS
                                       hop (the parents): one byte from trainer to server job
  poc_round_transport_floor_cpu_seconds  a DIFF round of a 1 GiB model with 2 clients moves
                                       4 GiB along that path (each client's model down and its
                                       diff up)
  poc_round_transport_floor_seconds_2_cores  the same on two cores, both busy all round

Compare with poc_large.sh's cpu_seconds_last_round_total and last_round_seconds.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

CHUNK = 4 << 20


def child(mode, role, addr, total):
    buf = bytearray(os.urandom(CHUNK)) if role == "send" else bytearray(CHUNK)
    family = socket.AF_UNIX if mode == "uds" else socket.AF_INET
    if role == "recv":
        srv = socket.socket(family, socket.SOCK_STREAM)
        srv.bind(addr if mode == "uds" else ("127.0.0.1", 0))
        srv.listen(1)
        print(addr if mode == "uds" else srv.getsockname()[1], flush=True)
        conn, _ = srv.accept()
        view = memoryview(buf)
        got = 0
        while got < total:
            n = conn.recv_into(view, min(CHUNK, total - got))
            if n == 0:
                sys.exit("hop_floor.py: the sender stopped early")
            got += n
    else:
        conn = socket.socket(family, socket.SOCK_STREAM)
        conn.connect(addr if mode == "uds" else ("127.0.0.1", int(addr)))
        sent = 0
        while sent < total:
            n = min(CHUNK, total - sent)
            conn.sendall(memoryview(buf)[:n])
            sent += n
    conn.close()


def hop_cpu_per_gib(mode, total):
    with tempfile.TemporaryDirectory() as d:
        me = os.path.abspath(__file__)
        recv = subprocess.Popen([sys.executable, me, "child", mode, "recv", d + "/s.sock", str(total)],
                                stdout=subprocess.PIPE, text=True)
        addr = recv.stdout.readline().strip()
        send = subprocess.Popen([sys.executable, me, "child", mode, "send", addr, str(total)])
        cpu = 0.0
        for p in (send, recv):
            _, status, usage = os.wait4(p.pid, 0)
            if status != 0:
                sys.exit(f"hop_floor.py: the {mode} {p.args[3]} process failed")
            cpu += usage.ru_utime + usage.ru_stime
        return cpu / (total / 2**30)


def aes_gib_per_s():
    out = subprocess.run(["openssl", "speed", "-seconds", "2", "-bytes", "16384", "-evp", "aes-128-gcm"],
                         capture_output=True, text=True, check=True).stdout
    last = [l for l in out.splitlines() if l.upper().startswith("AES-128-GCM")][-1]
    kbytes = float(last.split()[-1].rstrip("k"))  # 1000s of bytes per second
    return kbytes * 1000 / 2**30


def memcpy_gib_per_s():
    src = bytearray(os.urandom(64 << 20))
    dst = bytearray(len(src))
    dst[:] = src  # touch both
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(8):
            dst[:] = src
        best = max(best, 8 * len(src) / (time.perf_counter() - t) / 2**30)
    return best


def main():
    gib = 4
    args = sys.argv[1:]
    if args[:1] == ["--gib"] and len(args) == 2:
        gib = int(args[1])
    elif args:
        sys.exit(__doc__)
    total = gib << 30
    uds = hop_cpu_per_gib("uds", total)
    tcp = hop_cpu_per_gib("tcp", total)
    aes = aes_gib_per_s()
    mem = memcpy_gib_per_s()
    tls = tcp + 2 / aes + 2 / mem
    path = 3 * uds + tls
    print(f"uds_hop_cpu_seconds_per_gib: {uds:.3f}")
    print(f"tcp_hop_cpu_seconds_per_gib: {tcp:.3f}")
    print(f"aes_128_gcm_gib_per_s: {aes:.2f}")
    print(f"memcpy_gib_per_s: {mem:.2f}")
    print(f"tls_hop_floor_cpu_seconds_per_gib: {tls:.3f}")
    print(f"poc_path_floor_cpu_seconds_per_gib: {path:.3f}")
    print(f"poc_round_transport_floor_cpu_seconds: {4 * path:.2f}")
    print(f"poc_round_transport_floor_seconds_2_cores: {4 * path / 2:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        main()
