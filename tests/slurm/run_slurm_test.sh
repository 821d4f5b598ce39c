#!/usr/bin/env bash
# The batch files of scripts/slurm/ on a real one-node Slurm cluster, made here for the test:
# munged, slurmctld and slurmd on localhost with a generated slurm.conf fit for a container
# (linuxproc process tracking, no task plugin, no accounting), its state in a temporary folder,
# its ports chosen by the OS. Then:
#   a. simulator.sbatch runs jobs/hello-numpy: exit 0, the global model [[4,5,6],[7,8,9],[10,11,12]]
#      copied back, the node-local workspace removed; a bad job folder exits 1; SIGTERM during
#      a job whose trainers never end exits 130 with nothing left;
#   b. federation.sbatch runs hello-numpy on a POC project (free ports) to FINISHED:COMPLETED:
#      exit 0, the downloaded model exact, no process or node-local file of the run left;
#   c. federation.sbatch with a job whose trainers never end, then `scancel --signal=TERM --full`:
#      the job ends and no process of the run is left;
#   d. the same with `scancel --signal=TERM --batch` (what the time limit's --signal=B:TERM does):
#      an orderly stop, exit 143, every daemon logged its stop, nothing left;
#   e. a server kit naming a host outside the allocation is a usage error (exit 2); one naming
#      this machine's own name runs with NVF_SERVER_NODE (the multi-node path, on one node).
#
# Usage: run_slurm_test.sh NVFLARE_BIN [SOURCE_DIR]
# Exit 0 passed, 1 failed, 77 skipped (Slurm or munge missing, not root, or Slurm cannot start
# here: the reason is printed). NVF_REQUIRE_SLURM=1 turns a skip into a failure. NVF_KEEP_TMP=1
# keeps the temporary folder. Packages: slurm-wlm and munge (scripts/install-deps.sh).
set -uo pipefail

NVF="${1:-${NVFLARE_BIN:-}}"
SRC="${2:-$(cd "$(dirname "$0")/../.." && pwd)}"
SLURM_DIR="$SRC/scripts/slurm"
START=$(date +%s)

say() { echo "slurm-test: $(( $(date +%s) - START ))s $*"; }
skip() {
  echo "slurm-test: SKIPPED: $*"
  if [ "${NVF_REQUIRE_SLURM:-0}" = 1 ]; then echo "slurm-test: FAILED: NVF_REQUIRE_SLURM=1 and Slurm cannot run here"; exit 1; fi
  exit 77
}

[ -n "$NVF" ] && [ -x "$NVF" ] || { echo "slurm-test: FAILED: nvflare binary '$NVF' not found (usage: $0 NVFLARE_BIN [SOURCE_DIR])"; exit 1; }
NVF="$(cd "$(dirname "$NVF")" && pwd)/$(basename "$NVF")"
[ "$(id -u)" -eq 0 ] || skip "slurmd must run as root to start jobs (running as $(id -un))"
missing=()
for c in munged munge slurmctld slurmd sbatch squeue scontrol scancel srun sinfo; do
  command -v "$c" > /dev/null 2>&1 || missing+=("$c")
done
[ "${#missing[@]}" -eq 0 ] || skip "missing ${missing[*]} (Debian packages slurm-wlm and munge; scripts/install-deps.sh installs them)"

# ---- a private cluster ----------------------------------------------------------------------------
# In /tmp, not $TMPDIR: munged wants every folder above its socket searchable by all, and
# Unix socket paths must stay short.
T="$(mktemp -d /tmp/nvf-slurm.XXXXXX)"
chmod 755 "$T"   # munged wants its socket's folders searchable by all
mkdir -p "$T/munge" "$T/run" "$T/state" "$T/spool/localhost" "$T/log" "$T/home" "$T/nodelocal"
chmod 700 "$T/munge"
export SLURM_CONF="$T/slurm.conf"
PIDS=()   # munged, slurmctld, slurmd
FAILED=0

stop_pid() {  # pid: SIGTERM, up to 10 s, then SIGKILL
  local pid="$1" i
  kill -0 "$pid" 2> /dev/null || return 0
  kill -TERM "$pid" 2> /dev/null
  for i in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2> /dev/null && kill -KILL "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  return 0
}
cleanup() {
  local i
  if [ "${#PIDS[@]}" -ge 2 ]; then
    # Jobs first: their slurmstepd processes outlive slurmd.
    local ids
    ids="$(squeue -h -o %i 2> /dev/null | tr '\n' ' ')"
    # shellcheck disable=SC2086  # a list of job ids
    [ -z "${ids// /}" ] || scancel $ids > /dev/null 2>&1
    for i in $(seq 100); do [ -z "$(squeue -h -o %i 2> /dev/null)" ] && break; sleep 0.2; done
  fi
  for (( i = ${#PIDS[@]} - 1; i >= 0; i-- )); do stop_pid "${PIDS[$i]}"; done
  if [ "$FAILED" -ne 0 ] || [ "${NVF_KEEP_TMP:-0}" = 1 ]; then
    echo "slurm-test: kept $T"
  else
    rm -rf "$T"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

show_logs() {
  local f
  for f in "$T"/log/*.log "$T"/*.out; do
    [ -f "$f" ] || continue
    echo "----- $f (last 40 lines)"
    tail -n 40 "$f"
  done
}
fail() { FAILED=1; echo "slurm-test: FAILED: $*"; show_logs; exit 1; }
cannot_start() { echo "slurm-test: Slurm did not start: $*"; show_logs; skip "$*"; }

free_port() {
  if command -v python3 > /dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    local p
    while :; do
      p=$(( 20000 + RANDOM % 30000 ))
      (echo > "/dev/tcp/127.0.0.1/$p") 2> /dev/null || { echo "$p"; return; }
    done
  fi
}

# munge: a fresh key and a daemon on a private socket.
if command -v mungekey > /dev/null 2>&1; then
  mungekey --create --keyfile="$T/munge/munge.key" > /dev/null 2>&1
fi
[ -s "$T/munge/munge.key" ] || dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
SOCK="$T/run/munge.sock"
munged -F --key-file="$T/munge/munge.key" --socket="$SOCK" --log-file="$T/log/munged.log" \
  --pid-file="$T/run/munged.pid" --seed-file="$T/munge/seed" > "$T/log/munged.out" 2>&1 &
PIDS+=($!)
for i in $(seq 50); do munge -n -S "$SOCK" > /dev/null 2>&1 && break; kill -0 "${PIDS[0]}" 2> /dev/null || break; sleep 0.2; done
munge -n -S "$SOCK" 2> /dev/null | unmunge -S "$SOCK" > /dev/null 2>&1 ||
  cannot_start "munged does not work here: $(tail -n 1 "$T/log/munged.out" 2> /dev/null)"

CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
if [ -r /sys/fs/cgroup/memory.max ] && [ "$(cat /sys/fs/cgroup/memory.max)" != max ]; then
  CG_MB=$(( $(cat /sys/fs/cgroup/memory.max) / 1048576 ))
  [ "$CG_MB" -lt "$MEM_MB" ] && MEM_MB=$CG_MB
fi
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
while [ "$SLURMD_PORT" = "$CTLD_PORT" ]; do SLURMD_PORT=$(free_port); done
cat > "$SLURM_CONF" << EOF
# Generated by tests/slurm/run_slurm_test.sh: one node, localhost, fit for a container.
ClusterName=nvftest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool/%n
SlurmctldPidFile=$T/run/slurmctld.pid
SlurmdPidFile=$T/run/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=600
KillWait=30
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

slurmctld -D -c -f "$SLURM_CONF" > "$T/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" > "$T/log/slurmd.out" 2>&1 &
PIDS+=($!)
state=""
for i in $(seq 150); do
  kill -0 "${PIDS[1]}" 2> /dev/null || cannot_start "slurmctld exited: $(tail -n 1 "$T/log/slurmctld.out")"
  kill -0 "${PIDS[2]}" 2> /dev/null || cannot_start "slurmd exited: $(tail -n 1 "$T/log/slurmd.out")"
  state="$(sinfo -h -n localhost -o %t 2> /dev/null)"
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || cannot_start "node localhost is '${state:-unknown}' after 30 s, not idle"
say "Slurm is up: $(sinfo -h -o '%P %D %t %N' | head -n 1), $CPUS CPUs, $MEM_MB MB, ports $CTLD_PORT/$SLURMD_PORT"

# A trivial job proves that slurmd can start jobs here (a container may refuse).
probe="$(sbatch --parsable -o "$T/probe.out" --wrap 'echo probe-ok' 2>&1)" || cannot_start "sbatch refused a job: $probe"

# ---- helpers ----------------------------------------------------------------------------------------
job_field() {  # job field: one field of `scontrol show job` (empty when unknown)
  scontrol show job -o "$1" 2> /dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
# Waits (up to $2 s) for job $1 to end; prints "STATE EXITCODE".
wait_job() {
  local id="$1" limit="$2" end st
  end=$(( $(date +%s) + limit ))
  while :; do
    st="$(job_field "$id" JobState)"
    case "$st" in
      PENDING | RUNNING | CONFIGURING | COMPLETING | SUSPENDED | "") ;;
      *) echo "$st $(job_field "$id" ExitCode)"; return 0 ;;
    esac
    if [ "$(date +%s)" -ge "$end" ]; then echo "TIMEOUT ${st:-unknown}"; return 1; fi
    sleep 0.5
  done
}
# Waits (up to $2 s) until job $1 runs.
wait_running() {
  local id="$1" end=$(( $(date +%s) + $2 )) st
  while :; do
    st="$(job_field "$id" JobState)"
    [ "$st" = RUNNING ] && return 0
    case "$st" in PENDING | CONFIGURING | "") ;; *) return 1 ;; esac
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.5
  done
}
# The global model of hello-numpy after 3 rounds of +1: [[4,5,6],[7,8,9],[10,11,12]] as float32.
check_model() {  # models folder
  local npy="$1/server.npy" st="$1/server.safetensors"
  [ -f "$npy" ] || fail "no $npy"
  local py="" c
  for c in python3 /usr/bin/python3; do
    if command -v "$c" > /dev/null 2>&1 && "$c" -c 'import numpy' > /dev/null 2>&1; then py="$c"; break; fi
  done
  if [ -n "$py" ]; then
    "$py" - "$npy" << 'EOF' || fail "the global model in $npy is wrong"
import sys, numpy
a = numpy.load(sys.argv[1])
print("slurm-test: global model", a.dtype, a.tolist())
sys.exit(0 if a.tolist() == [[4, 5, 6], [7, 8, 9], [10, 11, 12]] else 1)
EOF
  else
    # Without numpy: the .npy header and the float32 bytes of 4..12, in both files.
    local want=000080400000a0400000c0400000e0400000004100001041000020410000304100004041 f
    head -c 128 "$npy" | grep -q "'descr': '<f4', 'fortran_order': False, 'shape': (3, 3)" || fail "$npy is not a 3x3 float32 array"
    grep -q '"dtype":"F32","shape":\[3,3\]' "$st" || fail "$st is not a 3x3 F32 tensor"
    for f in "$npy" "$st"; do
      [ "$(tail -c 36 "$f" | od -A n -t x1 | tr -d ' \n')" = "$want" ] || fail "the global model in $f is not [[4,5,6],[7,8,9],[10,11,12]]"
    done
    echo "slurm-test: global model float32 [[4,5,6],[7,8,9],[10,11,12]] (bytes compared; numpy is not installed)"
  fi
}
# Processes whose command line holds $1 (not zombies).
leftovers() {
  local p
  for p in $(pgrep -f -- "$1" 2> /dev/null); do
    [ "$(awk '{ print $3 }' "/proc/$p/stat" 2> /dev/null)" = Z ] && continue
    [ "$p" = "$$" ] && continue
    echo "$p $(tr '\0' ' ' < "/proc/$p/cmdline" 2> /dev/null)"
  done
}
expect_nothing_left() {  # what, pattern...
  local what="$1" pat left
  shift
  for pat in "$@"; do
    left="$(leftovers "$pat")"
    [ -z "$left" ] || fail "$what: processes of the run are left:
$left"
  done
}

# Waits until both trainers of the long job run in batch job $1 (up to 180 s).
wait_trainers() {
  local id="$1" end=$(( $(date +%s) + 180 ))
  while [ "$(wc -l < "$T/trainers.txt")" -lt 2 ]; do
    [ "$(job_field "$id" JobState)" = RUNNING ] || fail "job $id ended before its trainers started: $(wait_job "$id" 5)"
    [ "$(date +%s)" -lt "$end" ] || fail "the trainers of job $id did not start within 180 s"
    sleep 0.5
  done
}

export HOME="$T/home" TMPDIR="$T/nodelocal" NVF_BIN="$NVF"
SUBMIT=(sbatch --parsable --cpus-per-task="$CPUS" --chdir="$T")
st="$(wait_job "$probe" 60)"
[ "$st" = "COMPLETED 0:0" ] || cannot_start "a trivial batch job ended as '$st': $(cat "$T/probe.out" 2> /dev/null)"

# hello-numpy whose trainers say they started and then never end (the command line names the
# marker file, so pgrep finds them).
LONG="$T/long-job"
cp -a "$SRC/jobs/hello-numpy" "$LONG"
sed -i "s#\"trainer_command\": *\"[^\"]*\"#\"trainer_command\": \"/bin/sh -c 'echo started >> $T/trainers.txt; while :; do sleep 1; done' $T/trainers.txt\"#" \
  "$LONG/app/config/config_fed_client.json"
grep -q "trainers.txt" "$LONG/app/config/config_fed_client.json" || fail "could not make the long job"

# ---- a. simulator.sbatch ------------------------------------------------------------------------------
say "a. simulator.sbatch jobs/hello-numpy"
id="$(NVF_CLIENTS=2 "${SUBMIT[@]}" -o "$T/sim.out" "$SLURM_DIR/simulator.sbatch" "$SRC/jobs/hello-numpy" "$T/sim-results")" ||
  fail "sbatch simulator.sbatch: $id"
st="$(wait_job "$id" 300)"
say "a. job $id: $st"
[ "$st" = "COMPLETED 0:0" ] || fail "simulator.sbatch ended as '$st'"
check_model "$T/sim-results/server/simulate_job/models"
[ -d "$T/sim-results/site-1" ] && [ -d "$T/sim-results/server" ] || fail "the sites' workspaces were not copied back"
[ ! -e "$T/nodelocal/$id" ] || fail "the node-local workspace $T/nodelocal/$id is left"
grep -q "results in $T/sim-results" "$T/sim.out" || fail "simulator.sbatch did not say where the results are"

# A failing job's exit code comes through: a job folder without meta.json is refused (exit 1).
mkdir -p "$T/not-a-job"
id="$("${SUBMIT[@]}" -o "$T/sim-bad.out" "$SLURM_DIR/simulator.sbatch" "$T/not-a-job" "$T/sim-bad")" || fail "sbatch: $id"
st="$(wait_job "$id" 120)"
[ "$st" = "FAILED 1:0" ] || fail "simulator.sbatch of a bad job folder ended as '$st', not FAILED 1:0"
say "a. passed (a bad job folder: $st)"

# SIGTERM (as at the time limit): the simulator stops its trainers, the exit code is its 130.
say "a2. simulator.sbatch with a job whose trainers never end, scancel --signal=TERM --batch"
: > "$T/trainers.txt"
id="$("${SUBMIT[@]}" -o "$T/sim-term.out" "$SLURM_DIR/simulator.sbatch" "$LONG" "$T/sim-term")" || fail "sbatch: $id"
wait_running "$id" 120 || fail "a2. job $id did not start"
wait_trainers "$id"
scancel --signal=TERM --batch "$id" || fail "scancel failed"
st="$(wait_job "$id" 120)"
say "a2. job $id: $st"
[ "$st" = "FAILED 130:0" ] || fail "a2. simulator.sbatch stopped by SIGTERM ended as '$st', not FAILED 130:0"
expect_nothing_left "a2. after scancel" "$T/nodelocal/$id" "$T/trainers.txt"
[ -d "$T/sim-term/server" ] || fail "a2. the workspace was not copied back after SIGTERM"
[ ! -e "$T/nodelocal/$id" ] || fail "a2. the node-local workspace $T/nodelocal/$id is left"
say "a2. passed"

# ---- b. federation.sbatch: hello-numpy on a POC project -------------------------------------------------
say "b. federation.sbatch jobs/hello-numpy on a POC project"
NVFLARE_POC_WORKSPACE="$T/poc-scratch" "$NVF" poc prepare -n 2 > "$T/poc-scratch.out" 2>&1 || { cat "$T/poc-scratch.out"; fail "poc prepare"; }
sed -e "s/fed_learn_port: 8002/fed_learn_port: $(free_port)/" -e "s/admin_port: 8003/admin_port: $(free_port)/" \
  "$T/poc-scratch/project.yml" > "$T/project.yml"
grep -q "fed_learn_port: 8002" "$T/project.yml" && fail "the POC project's ports were not replaced"
NVFLARE_POC_WORKSPACE="$T/poc" "$NVF" poc prepare -i "$T/project.yml" > "$T/poc.out" 2>&1 || { cat "$T/poc.out"; fail "poc prepare -i"; }
PROD="$T/poc/example_project/prod_00"
[ -f "$PROD/server/startup/fed_server.json" ] || fail "no server kit in $PROD"

id="$(NVF_JOB_STORE="$T/job-store" "${SUBMIT[@]}" -o "$T/fed.out" "$SLURM_DIR/federation.sbatch" "$PROD" "$SRC/jobs/hello-numpy" "$T/fed-results")" ||
  fail "sbatch federation.sbatch: $id"
st="$(wait_job "$id" 400)"
say "b. job $id: $st"
[ "$st" = "COMPLETED 0:0" ] || fail "federation.sbatch ended as '$st'"
grep -q "FINISHED:COMPLETED" "$T/fed.out" || fail "no FINISHED:COMPLETED in the batch output"
job="$(sed -n 's/.*Submitted job: *\([0-9a-f-]*\).*/\1/p' "$T/fed-results/submit.log" | head -n 1)"
[ -n "$job" ] || fail "no job id in $T/fed-results/submit.log"
check_model "$T/fed-results/$job/workspace/models"
[ -e "$T/job-store/$job/meta" ] || fail "the job is not in the job store NVF_JOB_STORE named ($T/job-store)"
for p in server site-1 site-2; do
  [ -f "$T/fed-results/$p/log.txt" ] || fail "$p's workspace was not copied back"
  [ ! -e "$T/fed-results/$p/startup" ] || fail "$p's startup/ (its keys) was copied into the results"
done
[ -d "$T/fed-results/site-1/$job" ] || fail "site-1's run folder of the job is not in the results"
[ ! -e "$T/nodelocal/$id" ] || fail "the node-local folder $T/nodelocal/$id is left: $(ls -R "$T/nodelocal/$id" | head)"
expect_nothing_left "b" "$T/nodelocal/$id"
say "b. passed"

# ---- c/d. federation.sbatch stopped by a signal ------------------------------------------------------
run_and_signal() {  # letter scancel-mode
  local letter="$1" mode="$2" id st
  : > "$T/trainers.txt"
  id="$("${SUBMIT[@]}" -o "$T/fed-$letter.out" "$SLURM_DIR/federation.sbatch" "$PROD" "$LONG" "$T/fed-$letter-results")" ||
    fail "sbatch federation.sbatch: $id"
  wait_running "$id" 120 || fail "$letter. job $id did not start: $(job_field "$id" JobState)"
  wait_trainers "$id"
  [ -n "$(leftovers "$T/nodelocal/$id")" ] || fail "$letter. pgrep finds no process of the run while it runs"
  say "$letter. job $id runs its trainers; scancel --signal=TERM $mode $id"
  scancel --signal=TERM "$mode" "$id" || fail "scancel failed"
  local t0
  t0=$(date +%s)
  st="$(wait_job "$id" 120)"
  say "$letter. job $id: $st"
  case "$st" in TIMEOUT*) fail "$letter. job $id did not end within 120 s of SIGTERM" ;; esac
  expect_nothing_left "$letter. after scancel $mode" "$T/nodelocal/$id" "$T/trainers.txt"
  [ ! -e "$T/nodelocal/$id" ] || fail "$letter. the node-local folder $T/nodelocal/$id is left"
  [ -f "$T/fed-$letter-results/server/log.txt" ] || fail "$letter. the server's workspace was not copied back"
  grep -q "Submitted job: " "$T/fed-$letter-results/submit.log" || fail "$letter. submit.log lost what submit printed before the signal"
  # Socket folders of daemons that could not clean up (killed outright) are removed by the
  # sweep; other programs on this machine may leave some too, so this only warns.
  local stale d s held
  stale=""
  while read -r d; do
    held=1
    for s in "$d"/*.sock; do [ -S "$s" ] && held=0 && awk 'NR > 1 { print $NF }' /proc/net/unix | grep -qxF "$s" && held=1; done
    [ "$held" -eq 0 ] && stale="$stale $d"
  done < <(find /tmp -maxdepth 1 -type d \( -name "nvflare-sp-*" -o -name "nvflare-cp-*" -o -name "nvflare-cj-*" \) -newermt "@$(( t0 - 60 ))" 2> /dev/null)
  [ -z "$stale" ] || echo "slurm-test: warning: socket folders without a process:$stale"
  LAST_STATE="$st"
}

say "c. federation.sbatch with a long job, scancel --signal=TERM --full"
run_and_signal c --full
say "c. passed ($LAST_STATE)"

say "d. federation.sbatch with a long job, scancel --signal=TERM --batch (as at the time limit)"
run_and_signal d --batch
[ "$LAST_STATE" = "FAILED 143:0" ] || fail "d. the job ended as '$LAST_STATE', not FAILED 143:0 (SIGTERM)"
grep -q "did not stop within" "$T/fed-d.out" && fail "d. a daemon had to be killed: $(grep 'did not stop within' "$T/fed-d.out")"
for p in server site-1 site-2; do
  tail -n 5 "$T/fed-d-results/$p/log.txt" | grep -q "stopped" || fail "d. $p did not log an orderly stop: $(tail -n 3 "$T/fed-d-results/$p/log.txt")"
done
say "d. passed"

# ---- e. a server kit that names another host ---------------------------------------------------------
say "e. federation.sbatch with kits whose server is not localhost"
poc_for_host() {  # host workspace: kits of the POC project whose server is reached as host
  # (nvflare provision: `poc prepare` makes every POC run on this machine, whatever the host)
  sed "s/default_host: localhost/default_host: $1/" "$T/project.yml" > "$T/project-$1.yml"
  "$NVF" provision -p "$T/project-$1.yml" -w "$2" > "$2.out" 2>&1 || { cat "$2.out"; fail "provision for $1"; }
}
poc_for_host nvf-no-such-node "$T/poc-elsewhere"
id="$("${SUBMIT[@]}" -o "$T/fed-e1.out" "$SLURM_DIR/federation.sbatch" "$T/poc-elsewhere/example_project/prod_00" "$SRC/jobs/hello-numpy" "$T/fed-e1")" ||
  fail "sbatch: $id"
st="$(wait_job "$id" 120)"
[ "$st" = "FAILED 2:0" ] || fail "e. a server host outside the allocation ended as '$st', not FAILED 2:0 (a usage error)"
grep -q "not among the allocated nodes" "$T/fed-e1.out" || fail "e. no message about the server's host: $(cat "$T/fed-e1.out")"
# The machine's own name, as a cluster's kits name a node: the server listens on every interface
# and NVF_SERVER_NODE places it on the node (named localhost in this cluster).
me="$(hostname)"
if getent hosts "$me" > /dev/null 2>&1; then
  poc_for_host "$me" "$T/poc-named"
  id="$(NVF_SERVER_NODE=localhost "${SUBMIT[@]}" -o "$T/fed-e2.out" "$SLURM_DIR/federation.sbatch" \
    "$T/poc-named/example_project/prod_00" "$SRC/jobs/hello-numpy" "$T/fed-e2")" || fail "sbatch: $id"
  st="$(wait_job "$id" 400)"
  say "e. job $id (server reached as $me): $st"
  [ "$st" = "COMPLETED 0:0" ] || fail "e. federation.sbatch with the server reached as $me ended as '$st'"
  expect_nothing_left "e" "$T/nodelocal/$id"
else
  say "e. $me does not resolve here: the run with a named server host is left out"
fi
say "e. passed"

say "all passed in $(( $(date +%s) - START )) s"
exit 0
