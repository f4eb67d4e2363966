#!/usr/bin/env bash
# Builds the HTTP parser's fuzz target with clang++ (libFuzzer, AddressSanitizer, UBSan) in
# build/fuzz and runs it for SECONDS (default 60) from the seeds in tests/fuzz/corpus.
# Exits non-zero on any finding (a crash, a broken promise, a leak, a slow input); the input that
# caused it is left in build/fuzz/findings/. Usage: tests/fuzz/run.sh [SECONDS]
set -euo pipefail
seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FORKLAB_FUZZ_BUILD:-$root/build/fuzz}

command -v clang++ >/dev/null || { echo "run.sh: clang++ is needed (apt-get install clang)" >&2; exit 1; }
cmake -S "$here" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build"

# New inputs go into the first folder (the working corpus); the committed seeds stay as they are.
mkdir -p "$build/corpus" "$build/findings"
exec "$build/http_parser_fuzz" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/findings/" \
    -dict="$here/http.dict" \
    "$build/corpus" "$here/corpus"
