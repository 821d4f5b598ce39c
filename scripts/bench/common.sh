# Shared by the benchmark scripts: where the repository and the build are, and how to build a
# target. Source it after `set -euo pipefail`; it sets $repo, $build (BUILD_DIR overrides) and $here (this folder).
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
here="$repo/scripts/bench"

# bench_build TARGET...: configures the build folder if it has never been, then builds the targets.
bench_build() {
  if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
    (cd "$repo" && cmake --preset default)
  fi
  cmake --build "$build" --target "$@"
}

# bench_make_job JOB MODEL ROUNDS CLIENTS [TRANSFER]: a fedavg_pt job folder JOB (made with
# `nvflare job create` from $repo's templates, using $nvflare in $work) whose persistor loads the
# safetensors file MODEL and whose clients run `nvflare train --add 1` through a wrapper that
# records each trainer's peak RSS (KiB, /usr/bin/time) in JOB.rss/. TRANSFER: FULL or DIFF.
bench_make_job() {
  local job="$1" model="$2" nrounds="$3" nclients="$4" transfer="${5:-}"
  mkdir -p "$job.rss"
  printf '#!/usr/bin/env bash\nexec /usr/bin/time -f %%M -o "%s/trainer.$$" "$@"\n' "$job.rss" >"$job.wrap"
  chmod +x "$job.wrap"
  (cd "$work" && "$nvflare" job create -j "$job" -w fedavg_pt --job_templates_dir "$repo/jobs/templates" \
     -f config_fed_server.json "num_rounds=$nrounds" "min_clients=$nclients" >/dev/null)
  python3 - "$job" "$model" "$transfer" <<'PY'
import json, sys
job, model, transfer = sys.argv[1], sys.argv[2], sys.argv[3]
p = f"{job}/app/config/config_fed_server.json"
c = json.load(open(p))
c.pop("model", None)
for comp in c["components"]:
    if comp["id"] == "persistor":
        comp["args"] = {"source_ckpt_file_full_name": model}
json.dump(c, open(p, "w"), indent=4)
p = f"{job}/app/config/config_fed_client.json"
c = json.load(open(p))
for comp in c["components"]:
    if comp["id"] == "launcher":
        comp["args"]["script"] = f"{job}.wrap {{NVFLARE_BIN}} train --add 1"
for e in c["executors"]:
    if transfer:
        e["executor"]["args"]["params_transfer_type"] = transfer
json.dump(c, open(p, "w"), indent=4)
PY
}

# bench_round_times LOG ROUNDS: "mean last each" seconds of a FedAvg run from its server log:
# round 1 starts at the "FedAvg:" line, round i ends at its "round i/N" line (timestamps
# "YYYY-MM-DD HH:MM:SS,mmm", across midnight too); `each` is comma-separated. Fails unless ROUNDS rounds are there.
bench_round_times() {
  awk -v n="$2" '
  # Seconds since a fixed day: the date counts too, so a run across midnight stays positive.
  function t(line,   d, a, y, m) {
    split(substr(line, 1, 10), d, /-/); split(substr(line, 12, 12), a, /[:,]/)
    y = d[1] + 0; m = d[2] + 0; if (m <= 2) { y--; m += 12 }
    return (365*y + int(y/4) - int(y/100) + int(y/400) + int((153*(m-3)+2)/5) + d[3]) * 86400 + a[1]*3600 + a[2]*60 + a[3] + a[4]/1000
  }
  / - FedAvg: / && start == "" { start = t($0) }
  / - round [0-9]+\// && start != "" { prev = last; last = t($0); count++; each = each sprintf(",%.3f", last - (count > 1 ? prev : start)) }
  END { if (count != n) exit 1; printf "%.3f %.3f %s\n", (last - start) / n, last - (n > 1 ? prev : start), substr(each, 2) }' "$1"
}

# bench_start_poc PREFIX CLIENTS [SCHEME]: a POC system of CLIENTS clients on two free ports in a
# fresh folder $work (named PREFIX.XXXXXX under $TMPDIR), with HOME and NVFLARE_POC_WORKSPACE inside
# it, its project's scheme SCHEME (default: the project's, grpc);
# `poc stop` and the folder's removal run at exit (not with KEEP=1 in the environment). Needs
# $nvflare.
bench_start_poc() {
  work="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  export HOME="$work/home" NVFLARE_POC_WORKSPACE="$work/poc"
  mkdir -p "$HOME"
  trap '"$nvflare" poc stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
  if [[ -n "${KEEP:-}" ]]; then
    trap - EXIT
    echo "keeping $work; its POC system keeps running: HOME=$HOME NVFLARE_POC_WORKSPACE=$NVFLARE_POC_WORKSPACE $nvflare poc stop" >&2
  fi
  "$nvflare" poc prepare -n "$2" >/dev/null
  python3 - "$NVFLARE_POC_WORKSPACE/project.yml" "$work/project.yml" "${3:-}" <<'PY'
import socket, sys
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
text = open(sys.argv[1]).read()
text = text.replace("fed_learn_port: 8002", f"fed_learn_port: {free()}").replace("admin_port: 8003", f"admin_port: {free()}")
if sys.argv[3]:
    if "scheme: grpc" not in text:
        sys.exit("bench_start_poc: the POC project has no 'scheme: grpc' line to replace")
    text = text.replace("scheme: grpc", f"scheme: {sys.argv[3]}")
open(sys.argv[2], "w").write(text)
PY
  printf 'y\n' | "$nvflare" poc prepare -i "$work/project.yml" >/dev/null
  "$nvflare" poc start -ex admin@nvidia.com >/dev/null
}
