#!/bin/bash
# Times `make run` as on a fresh machine (docs/testing.md, "How long make run takes"): a
# fresh clone of this repository, an empty CARGO_HOME (every crate downloaded again, no
# cargo-leptos or wasm-bindgen installed) and an empty npm cache; only rustup's toolchain
# and Debian's packages are reused. Prints each line of make's output with the seconds
# since the start, and stops the server once it listens.
#
#   bench/make-run-fresh.sh [SCRATCH_DIR]      (default /tmp/make-run-fresh; wiped first)
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=${1:-/tmp/make-run-fresh}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}
cargo_bin=$(dirname "$(command -v cargo)")
rm -rf "$scratch" && mkdir -p "$scratch/home/.cargo/bin"
for tool in cargo rustc rustup rustdoc cargo-clippy clippy-driver rustfmt cargo-fmt; do
  ln -s "$cargo_bin/$tool" "$scratch/home/.cargo/bin/$tool"
done
export HOME=$scratch/home CARGO_HOME=$scratch/home/.cargo RUSTUP_HOME=$rustup_home
export PATH=$scratch/home/.cargo/bin:/usr/local/bin:/usr/bin:/bin
git clone -q "$repo" "$scratch/latchkey" && cd "$scratch/latchkey" || exit 1
start=$(date +%s)
LEPTOS_SITE_ADDR=127.0.0.1:0 make run 2>&1 | while IFS= read -r line; do
  printf '%5d %s\n' $(( $(date +%s) - start )) "$line"
  if [[ $line == *"Latchkey listening"* ]]; then
    # This clone's server only: the one whose working directory is the clone.
    for pid in $(pgrep -f "target/release/latchkey serve"); do
      [[ $(readlink "/proc/$pid/cwd") == "$scratch/latchkey" ]] && kill "$pid"
    done
  fi
done | tee "$scratch/make-run.log"
