# Shared by the benchmark scripts: where the repository and the build are, and how to build a
# target. Source it after `set -euo pipefail`; it sets $repo and $build (BUILD_DIR overrides).
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"

# bench_build TARGET...: configures the build folder if it has never been, then builds the targets.
bench_build() {
  if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
    (cd "$repo" && cmake --preset default)
  fi
  cmake --build "$build" --target "$@"
}
