#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs every libFuzzer target FUZZ_SECONDS seconds from its committed seeds (fuzz/corpus/<target>/) and
# prints executions, coverage and any finding. New inputs go to $OUTPUT/fuzz/corpus/<target>/ so the
# committed seeds stay as they are; crash inputs land in $OUTPUT/fuzz/artifacts/.
#
# Usage: OUTPUT=<abs .output> FUZZ_SECONDS=N [FUZZ_RUNS=N] fuzz/run.sh [TARGET...]   (TARGET: config, ...)
# FUZZ_RUNS set: each target runs until that many executions instead (FUZZ_SECONDS then only caps it).
set -u
cd "$(dirname "$0")/.." || exit 1
OUTPUT=${OUTPUT:-$PWD/.output}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_RUNS=${FUZZ_RUNS:-}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in fuzz/fuzz_*.c; do t=${f#fuzz/fuzz_}; targets+=("${t%.c}"); done
fi
fail=0
mkdir -p "$OUTPUT/fuzz/artifacts"
for t in "${targets[@]}"; do
	bin=$OUTPUT/fuzz/fuzz_$t work=$OUTPUT/fuzz/corpus/$t log=$OUTPUT/fuzz/$t.log
	[ -x "$bin" ] || { echo "fuzz $t: $bin missing (make fuzz-build)"; fail=1; continue; }
	mkdir -p "$work"
	# detect_leaks stays on: a leak is a finding. -close_fd_mask=3 keeps the parsers' messages out of the log
	# (and their cost out of the rate); libFuzzer still reports a finding on its own copy of stderr.
	start=$(date +%s)
	"$bin" -max_total_time="$FUZZ_SECONDS" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -print_final_stats=1 -close_fd_mask=3 -timeout=10 \
		-rss_limit_mb=2048 -artifact_prefix="$OUTPUT/fuzz/artifacts/$t-" "$work" "fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start )); [ "$secs" -gt 0 ] || secs=1
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	if [ $rc -ne 0 ]; then
		echo "fuzz $t: FINDING (exit $rc) after ${execs:-?} executions; log $log"
		grep -m3 -E 'ERROR|invariant|SUMMARY|Test unit written' "$log"
		fail=1
	else
		echo "fuzz $t: ${execs:-?} executions in ${secs}s ($((${execs:-0} / secs))/s), ${cov:-cov: ?} edges, no finding"
	fi
done
exit $fail
