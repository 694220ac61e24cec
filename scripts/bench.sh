#!/usr/bin/env bash
# The plan-at-scale benchmark (see crates/test-support/src/bin/bench.rs): a release build of eksaudit against moto
# with 30 ms added to every call, 1/4/8 regions × 1/10/50 clusters, then plan for 20 member accounts ([accounts])
# × 2 regions × 5 clusters against 1 account × 2 × 5, with the ratio. Writes bench/results.md. Takes several
# minutes; not part of the test suite (tests/it/calls.rs guards the in-sync call count instead).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-moto.sh >/dev/null
cargo build --quiet --release --bin eksaudit
cargo build --quiet --release -p eksaudit-test-support --bin bench
target="${CARGO_TARGET_DIR:-target}"
mkdir -p bench
{
  echo "# eksaudit benchmark"
  echo
  echo "Run on $(date -u +%Y-%m-%d) with \`scripts/bench.sh $*\` ($(nproc) cores); moto 5.1.22 behind the recording proxy."
  echo
  "$target/release/bench" "$(cd "$target" && pwd)/release/eksaudit" "$@"
} | tee bench/results.md
