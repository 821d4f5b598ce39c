#!/usr/bin/env python3
"""Samples the nvflare processes of a benchmark: peak RSS per role and minor page faults per round.

  procwatch.py sample OUT      every 20 ms until SIGTERM: for each nvflare process, its role, VmHWM
                               minor faults and CPU time (/proc/PID/stat fields 10, 14 and 15);
                               writes OUT.peaks (one "role bytes" line per role: the largest VmHWM)
                               and OUT.faults ("time pid role minflt cpu_ticks" whenever a
                               process's counts changed).
  procwatch.py faults OUT LOG ROUNDS MODEL_BYTES
                               prints "minor_faults_per_model_page_<role>: x" for the last round:
                               the largest, over the role's processes, of the faults taken between
                               the end of round ROUNDS-1 and the end of round ROUNDS (the "round i/N"
                               lines of the server-side LOG; round 1 starts at its "FedAvg:" line),
                               divided by the model's 4 KiB pages; and "cpu_seconds_last_round_<role>:
                               x", the user + system CPU seconds all the role's processes used in
                               that round, and their sum over every role ("..._total").

Roles: simulator, server_parent, server_job, client_parent, client_job, relay, trainer (`nvflare
train`), submitter (`nvflare job submit`).
"""
import os
import re
import signal
import sys
import time


def role_of(argv):
    if not argv or not argv[0].endswith("nvflare"):
        return None
    if "_server_job" in argv:
        return "server_job"
    if "_client_job" in argv:
        return "client_job"
    if len(argv) > 1:
        if argv[1] == "job" and len(argv) > 2 and argv[2] == "submit":
            return "submitter"
        return {"server": "server_parent", "client": "client_parent", "simulator": "simulator",
                "train": "trainer", "relay": "relay"}.get(argv[1])
    return None


def sample(out):
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    roles = {}  # pid -> (role or None, first seen): a process is classified again during its first
    # second, so a child caught between fork and exec (with its parent's command line) gets its own
    peaks = {}
    last = {}
    with open(out + ".faults", "w") as faults:
        while not stop:
            now = time.time()
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    role, seen = roles.get(pid, (None, None))
                    if seen is None or now - seen < 1.0:
                        with open(f"/proc/{pid}/cmdline", "rb") as f:
                            argv = [a.decode(errors="replace") for a in f.read().split(b"\0")]
                        role = role_of(argv)
                        roles[pid] = (role, seen if seen is not None else now)
                    if role is None:
                        continue
                    with open(f"/proc/{pid}/stat") as f:
                        stat = f.read()
                    fields = stat[stat.rindex(")") + 2:].split()
                    minflt = int(fields[7])
                    ticks = int(fields[11]) + int(fields[12])
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                peaks[role] = max(peaks.get(role, 0), int(line.split()[1]) * 1024)
                                break
                    if last.get(pid) != (minflt, ticks):
                        last[pid] = (minflt, ticks)
                        faults.write(f"{now:.3f} {pid} {role} {minflt} {ticks}\n")
                except (OSError, ValueError, IndexError):
                    roles.setdefault(pid, (None, now))
            time.sleep(0.02)
    with open(out + ".peaks", "w") as f:
        for role, v in sorted(peaks.items()):
            f.write(f"{role} {v}\n")


def log_time(line):
    # "YYYY-MM-DD HH:MM:SS,mmm - ..." in local time
    stamp = line[:23]
    base = time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S"))
    return base + int(stamp[20:23]) / 1000.0


def faults(out, log, rounds, model_bytes):
    start = None
    ends = []
    with open(log, errors="replace") as f:
        for line in f:
            if start is None and " - FedAvg: " in line:
                start = log_time(line)
            elif start is not None and re.search(r" - round \d+/", line):
                ends.append(log_time(line))
    if len(ends) < rounds or start is None:
        sys.exit(f"procwatch.py: {log} has {len(ends)} round lines; expected {rounds}")
    t0 = ends[rounds - 2] if rounds >= 2 else start
    t1 = ends[rounds - 1]
    series = {}  # pid -> (role, [(t, minflt, cpu_ticks)])
    with open(out + ".faults") as f:
        for line in f:
            t, pid, role, n, ticks = line.split()
            series.setdefault(pid, (role, []))[1].append((float(t), int(n), int(ticks)))

    def at(points, t):
        v = None
        for point in points:
            if point[0] > t:
                break
            v = point
        return v

    pages = model_bytes / 4096
    tick = os.sysconf("SC_CLK_TCK")
    worst = {}
    cpu = {}
    for role, points in series.values():
        a, b = at(points, t0), at(points, t1)
        if b is None:
            continue
        # A process first seen inside the round started there: its faults count from its first
        # sample (start-up is not the round's work), its CPU time from zero.
        worst[role] = max(worst.get(role, 0.0), (b[1] - (a or points[0])[1]) / pages)
        cpu[role] = cpu.get(role, 0.0) + (b[2] - (a[2] if a else 0)) / tick
    for role in sorted(worst):
        print(f"minor_faults_per_model_page_{role}: {worst[role]:.3f}")
    for role in sorted(cpu):
        print(f"cpu_seconds_last_round_{role}: {cpu[role]:.2f}")
    print(f"cpu_seconds_last_round_total: {sum(cpu.values()):.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "sample":
        sample(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "faults":
        faults(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)
