#!/usr/bin/env bash
# Runs every check and test: formatting, lints, unit tests and the integration tests against a local moto.
# This is the README's test command and exactly what CI runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-moto.sh
scripts/install-validators.sh
scripts/install-parliament.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
