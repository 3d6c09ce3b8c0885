#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 60) seconds, starting from a
# copy of the checked-in corpus and regressions, so that CI never modifies the
# repository. The mutations follow FUZZ_SEED (default 1), so that a change
# lands or not on its own merits, not on where a random walk went that day:
# explore with FUZZ_SEED=0 (a random seed) and longer FUZZ_SECONDS, and keep
# what it finds under regressions/. Fails on the first crash, leaving the
# crashing input under $FUZZ_ARTIFACTS (default: a temporary directory,
# printed). Skips, and says so, when no nightly toolchain is installed: the
# stable replay test (`cargo test -p router-sim --test fuzz_corpus`) still
# covers the corpus.
set -euo pipefail

cd "$(dirname "$0")"

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "skipping fuzzing: no nightly toolchain"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

seconds="${FUZZ_SECONDS:-60}"
seed="${FUZZ_SEED:-1}"
work="$(mktemp -d)"
artifacts="${FUZZ_ARTIFACTS:-$work/artifacts}"
trap 'rm -rf "$work/corpus"' EXIT

targets="$(cargo +nightly fuzz list)"
for target in $targets; do
    corpus="$work/corpus/$target"
    mkdir -p "$corpus" "$artifacts/$target"
    for seeds in "corpus/$target" "regressions/$target"; do
        if [ -d "$seeds" ]; then
            cp -R "$seeds/." "$corpus/"
        fi
    done
    echo "fuzzing $target for ${seconds}s (seed $seed)"
    # No sanitizer: router-core forbids unsafe code, and AddressSanitizer
    # would halve the executions the minute buys.
    if ! cargo +nightly fuzz run --sanitizer none "$target" "$corpus" -- \
        -max_total_time="$seconds" -seed="$seed" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$target/"; then
        echo "fuzz target $target failed: crashing input in $artifacts/$target/" >&2
        echo "minimise it with: cargo +nightly fuzz tmin $target <input>" >&2
        exit 1
    fi
done
rm -rf "$work"
echo "fuzzing passed: every target ran ${seconds}s without a crash"
