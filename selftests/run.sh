#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs every xwg test (unit binaries, shell tests, netns tests) under a timeout and adds up their summaries.
#
# Usage: OUTPUT=<abs .output> selftests/run.sh [REGEX]
#   REGEX (extended, matched against the test's name) selects tests, e.g. "netns_" or "crypto|noise".
# Each test prints "ok"/"not ok" lines and ends with "N passed, N failed[, N skipped]".  A test whose
# last line is no summary, or that crashed or timed out, counts as one failure; exit status 77 means
# skipped.  Tests needing root (netns_*, names containing "bpf", or an "xwg-needs: root" marker in the
# test or its source) are skipped when not root.  "xwg-timeout: N" in a test sets its timeout (default
# TEST_TIMEOUT, 300 s).  As root it first probes which data path modes this machine supports
# (probe_modes.sh) and exports XWG_TEST_MODES / XWG_TEST_MODES_WHY for the tests.  Logs: $OUTPUT/selftests/logs/NAME.{out,err}; VERBOSE=1 shows every test's output.
# Sanitizer reports (ASan, UBSan, LeakSanitizer) of every process a test starts go to
# $OUTPUT/selftests/logs/NAME.san/; any report fails the test, even one from an agent in a namespace
# whose failure the test itself would not notice (UBSan continues after a report).

set -u
SELF_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_DIR=$(dirname "$SELF_DIR")
OUTPUT=${OUTPUT:-$REPO_DIR/.output}
export OUTPUT
FILTER=${1:-}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
VERBOSE=${VERBOSE:-0}
LOGDIR=$OUTPUT/selftests/logs

total_pass=0 total_fail=0 total_skip=0
failed_tests=()
current=""

cd "$REPO_DIR" || exit 1
mkdir -p "$LOGDIR" 2>/dev/null && [ -w "$LOGDIR" ] || LOGDIR=$(mktemp -d /tmp/xwg-logs.XXXXXX)

# The agents mount a bpffs on /sys/fs/bpf when the host has none (their pins must outlive them).
# Whatever the tests mounted goes when they are done, if no xwg pins are left in it.
bpffs_before=$(stat -f -c %T /sys/fs/bpf 2>/dev/null)
bpffs_restore() {
	[ "$bpffs_before" = bpf_fs ] && return
	[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] || return
	[ -z "$(ls -A /sys/fs/bpf/xwg 2>/dev/null)" ] || return
	rmdir /sys/fs/bpf/xwg 2>/dev/null
	umount /sys/fs/bpf 2>/dev/null
}

# Ctrl-C: let the running test clean up (its trap removes namespaces), then stop.
on_signal() {
	[ -n "$current" ] && kill -TERM "$current" 2>/dev/null && wait "$current" 2>/dev/null
	bpffs_restore
	echo "interrupted"
	printf '%d passed, %d failed, %d skipped\n' "$total_pass" "$((total_fail + 1))" "$total_skip"
	exit 130
}
trap on_signal INT TERM

list_tests() {
	local f
	for f in "$OUTPUT"/selftests/test_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		case $f in *.d|*.o|*.log|*.out|*.err) continue ;; esac
		echo "$f"
	done
	for f in selftests/test_*.sh selftests/netns_*.sh; do
		[ -f "$f" ] && echo "$f"
	done
}

# The text a test's markers live in: a shell test itself, or a binary's C source.
marker_text() {
	local name=$1 path=$2
	case $path in
	*.sh) cat "$path" ;;
	*) [ -f "selftests/$name.c" ] && cat "selftests/$name.c" ;;
	esac
}

needs_root() {
	case $1 in netns_*|*bpf*) return 0 ;; esac
	marker_text "$1" "$2" | grep -q 'xwg-needs: *root'
}

test_timeout() {
	local t
	t=$(marker_text "$1" "$2" | sed -n 's/.*xwg-timeout: *\([0-9][0-9]*\).*/\1/p' | head -n 1)
	echo "${t:-$TEST_TIMEOUT}"
}

# run_one PATH: runs one test and folds its result into the totals.
run_one() {
	local path=$1 name tmo out err san r rc start secs last p f s verdict detail
	name=$(basename "$path")
	if [ -n "$FILTER" ] && ! printf '%s' "$name" | grep -Eq -- "$FILTER"; then
		return
	fi
	if [ "$(id -u)" != 0 ] && needs_root "${name%.sh}" "$path"; then
		total_skip=$((total_skip + 1))
		printf 'SKIP  %-28s needs root\n' "$name"
		return
	fi
	tmo=$(test_timeout "${name%.sh}" "$path")
	out=$LOGDIR/${name%.sh}.out err=$LOGDIR/${name%.sh}.err san=$LOGDIR/${name%.sh}.san
	rm -rf "$san" && mkdir -p "$san"
	start=$(date +%s)
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$san/asan" \
	UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$san/ubsan" \
		timeout -k 20 "$tmo" "$path" >"$out" 2>"$err" &
	current=$!
	[ "$VERBOSE" = 1 ] && tail -n +1 -f --pid="$current" "$out" "$err" &
	wait "$current"
	rc=$?
	current=""
	wait
	secs=$(( $(date +%s) - start ))

	last=$(grep -v '^[[:space:]]*$' "$out" | tail -n 1)
	p=0 f=0 s=0
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
		p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
		detail="$p passed, $f failed${BASH_REMATCH[3]:+, $s skipped}"
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			f=$((f + 1)) detail="$detail; timed out after ${tmo}s"
		elif [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			f=1 detail="$detail; but exit status $rc"
		fi
	elif [ "$rc" = 77 ]; then
		s=1 detail="skipped: $last"
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		f=1 detail="timed out after ${tmo}s"
	else
		f=1 detail="no summary line (exit status $rc)"
	fi
	if [ -n "$(ls -A "$san" 2>/dev/null)" ]; then
		f=$((f + 1)) detail="$detail; sanitizer report in $san"
	fi
	if [ "$f" -gt 0 ]; then verdict=FAIL; elif [ "$p" = 0 ] && [ "$s" -gt 0 ]; then verdict=SKIP; else verdict=PASS; fi
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f)) total_skip=$((total_skip + s))
	printf '%-4s  %-28s %s (%ss)\n' "$verdict" "$name" "$detail" "$secs"
	if [ $verdict = SKIP ]; then
		grep -h '^# SKIP' "$out" | head -n 3 | sed 's/^/      /'
	fi
	if [ $verdict = FAIL ]; then
		failed_tests+=("$name")
		if [ "$VERBOSE" != 1 ]; then
			grep -h '^not ok' "$out" | head -n 30 | sed 's/^/      /'
			echo "      --- last lines of $out:"
			tail -n 25 "$out" | sed 's/^/      | /'
			if [ -s "$err" ]; then
				echo "      --- last lines of $err:"
				tail -n 15 "$err" | sed 's/^/      | /'
			fi
			for r in "$san"/*; do
				[ -f "$r" ] || continue
				echo "      --- $r:"
				head -n 20 "$r" | sed 's/^/      | /'
			done
		fi
	fi
}

# Which modes this machine supports, once for every test: a refusal of one of them is a failure.
if [ -z "${XWG_TEST_MODES+x}" ] && [ "$(id -u)" = 0 ]; then
	eval "$(OUTPUT=$OUTPUT "$SELF_DIR/probe_modes.sh")"
	export XWG_TEST_MODES XWG_TEST_MODES_WHY
	echo "modes this machine supports: ${XWG_TEST_MODES:-none}${XWG_TEST_MODES_WHY:+ (lacks ${XWG_TEST_MODES_WHY//|/; })}"
fi

tests=$(list_tests)
if [ -z "$tests" ]; then
	echo "no tests found (OUTPUT=$OUTPUT)"
fi
for t in $tests; do
	run_one "$t"
done

bpffs_restore
[ ${#failed_tests[@]} -gt 0 ] && echo "failed: ${failed_tests[*]}"
printf '%d passed, %d failed, %d skipped\n' "$total_pass" "$total_fail" "$total_skip"
[ "$total_fail" -eq 0 ]
