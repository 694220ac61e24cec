#!/usr/bin/env bash
# The benchmark (see crates/test-support/src/bin/bench.rs): a release build of eksaudit against moto behind the
# recording proxy. Two tables: 1/4/8 regions × 1/10/50 clusters with 30 ms added to every call; then, under the
# quota model (AWS's default quotas, crates/aws/src/quotas.rs) with 50 ms a call, 1 and 8 regions × 1 and 50
# clusters, each figure beside its quota bound (issue 19's target: at most 1.25× the bound at 8 × 50, nothing
# throttled out); then plan for 20 member accounts ([accounts]) × 2 regions × 5 clusters against 1 account × 2 × 5,
# with the ratio. Writes bench/results.md. Takes many minutes; not part of the test suite (tests/it/calls.rs and
# tests/it/quotas.rs guard the in-sync call count and the quotas at a reduced scale).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-moto.sh >/dev/null
cargo build --quiet --release --bin eksaudit
cargo build --quiet --release -p eksaudit-test-support --bin bench
target="${CARGO_TARGET_DIR:-target}"
bin="$(cd "$target" && pwd)/release/eksaudit"
mkdir -p bench
{
  echo "# eksaudit benchmark"
  echo
  echo "Run on $(date -u +%Y-%m-%d) with \`scripts/bench.sh $*\` ($(nproc) cores); moto 5.1.22 behind the recording proxy."
  echo "Release builds of \`eksaudit\` and \`bench\`. Load at the start: $(uptime | sed 's/.*load average/load average/')"
  echo "(the machine may be shared: wall times of small runs grow with the load; under the quota model the ratio"
  echo "to the bound is set by pacing, not by CPU)."
  echo
  echo "## Scale"
  echo
  "$target/release/bench" "$bin" "$@"
  echo
  echo "## Under AWS's quotas"
  echo
  "$target/release/bench" "$bin" --latency-ms 50 --regions 1,8 --clusters 1,50 --quotas --accounts 0
  echo
  echo "Load at the end: $(uptime | sed 's/.*load average/load average/')"
} | tee bench/results.md
