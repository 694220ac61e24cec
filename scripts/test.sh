#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit tests and the integration tests against a local moto.
# This is the README's test command and exactly what CI runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The Python tools the tests use (moto, schema validators, Parliament, the deploy linters, cfn-lint), each in a
# venv of its own, are installed while Rust is checked and built: on a clean machine the installs take over three
# minutes one after another, mostly waiting on the network, and nothing before `cargo test` runs needs them.
installs=(moto validators parliament linters cfn-lint)
logs="$(mktemp -d)"
pids=()
for tool in "${installs[@]}"; do
  scripts/install-"$tool".sh >"$logs/$tool.log" 2>&1 &
  pids+=("$!")
done
# A check that fails stops the installs too.
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$logs"' EXIT

cargo fmt --all --check
# Lints and the test build in one pass: clippy's driver compiles the workspace's own crates (the ones `cargo clippy`
# lints) with its lints on, `-D warnings` as `cargo clippy -- -D warnings` passes it, so the dependencies are built
# once instead of checked for clippy and then built again for the tests. The same variables stay set for the test
# run below, which then finds everything built.
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo test --workspace --all-targets --locked --no-run

for i in "${!installs[@]}"; do
  tool="${installs[$i]}"
  if ! wait "${pids[$i]}"; then
    cat "$logs/$tool.log"
    echo "scripts/install-$tool.sh failed" >&2
    exit 1
  fi
  cat "$logs/$tool.log"
done

cargo test --workspace --locked
# The alert function's own tests (lambda/alerts), publishing to a local moto's SNS.
.venv-moto/bin/python -m unittest discover -s lambda/alerts
# The Sentinel transform's own tests (lambda/sentinel): Firehose transformation events in, rows out.
.venv-moto/bin/python -m unittest discover -s lambda/sentinel
