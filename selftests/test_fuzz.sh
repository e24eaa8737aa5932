#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs each libFuzzer target (fuzz/) for a few seconds from its seeds: any crash, sanitizer report,
# leak or broken invariant fails. The long runs are `make fuzz`.
# xwg-timeout: 120
set -u
cd "$(dirname "$0")/.." || exit 1
OUTPUT=${OUTPUT:-$PWD/.output}
SECS=${XWG_FUZZ_CHECK_SECONDS:-3}
pass=0 failn=0
for f in fuzz/fuzz_*.c; do
	t=${f#fuzz/fuzz_}; t=${t%.c}
	# A fresh working corpus each time: the check is reproducible from the committed seeds.
	rm -rf "$OUTPUT/fuzz/corpus/$t"
	if out=$(OUTPUT=$OUTPUT FUZZ_SECONDS=$SECS fuzz/run.sh "$t"); then
		echo "ok - $out"; pass=$((pass + 1))
	else
		echo "not ok - $out"; failn=$((failn + 1))
	fi
done
echo "$pass passed, $failn failed"
[ $failn -eq 0 ]
