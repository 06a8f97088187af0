#!/bin/sh
# test-cli.sh: the mitogen command line, end to end, against local
# children.
#
# Uses $MITOGEN_CLI, or _build/tools/mitogen with the MITOGEN_* variables
# pointing into _build when they are not set.
#
# SPDX-License-Identifier: BSD-3-Clause
set -u

build=${MITOGEN_BUILD_DIR:-_build}
cli=${MITOGEN_CLI:-$build/tools/mitogen}
: "${MITOGEN_TRANSPORT_PATH:=$build/transports}"
: "${MITOGEN_PLUGIN_PATH:=$build/plugins}"
: "${MITOGEN_AGENT:=$build/tools/mitogen-agent}"
export MITOGEN_TRANSPORT_PATH MITOGEN_PLUGIN_PATH MITOGEN_AGENT

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
failures=0

fail () {
  echo "FAIL: $*" >&2
  for f in out err; do
    [ -s "$tmp/$f" ] && sed "s/^/  $f: /" "$tmp/$f" >&2
  done
  failures=$((failures + 1))
}

# Runs the CLI with stdout and stderr kept apart in $tmp/out and $tmp/err;
# sets $rc.
cli () {
  "$cli" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

expect_rc () {
  [ "$rc" -eq "$1" ] || fail "$2: exit status $rc, not $1"
}

# Whole-line match, so that "out" is not found in "stdout".
expect_line () {
  grep -qx -- "$2" "$tmp/$1" || fail "$3: no line '$2' on std$1"
}

expect_text () {
  grep -q -- "$2" "$tmp/$1" || fail "$3: no '$2' on std$1"
}

expect_empty () {
  [ ! -s "$tmp/$1" ] || fail "$2: std$1 is not empty"
}

if [ ! -x "$cli" ]; then
  echo "FAIL: no mitogen at $cli (set MITOGEN_CLI)" >&2
  exit 1
fi

t='run with output on both streams and a status'
cli run local -- sh -c 'echo out; echo err >&2; exit 7'
expect_rc 7 "$t"
expect_line out 'out' "$t"
expect_line err 'err' "$t"
grep -q err "$tmp/out" && fail "$t: stderr output on stdout"
grep -q out "$tmp/err" && fail "$t: stdout output on stderr"

t='run success'
cli run local -- true
expect_rc 0 "$t"

t='call core.getpid'
cli call local core.getpid
expect_rc 0 "$t"
pid=$(cat "$tmp/out")
case $pid in
  ''|*[!0-9]*) fail "$t: '$pid' is not an integer" ;;
  *) [ "$pid" -ne $$ ] || fail "$t: the child's pid is the shell's" ;;
esac
expect_empty err "$t"

t='call core.getenv with a bare word'
HOME=/tmp/mitogen-home-test cli call local core.getenv HOME
expect_rc 0 "$t"
expect_line out "'/tmp/mitogen-home-test'" "$t"

t='call core.sleep with a double'
cli call local core.sleep 0.1
expect_rc 0 "$t"
expect_line out '()' "$t"

t='call core.fail'
cli call local core.fail '"boom"'
expect_rc 1 "$t"
expect_text err 'boom' "$t"
expect_text err '^mitogen: ' "$t"
expect_empty out "$t"

t='call nosuch.fn'
cli call local nosuch.fn
expect_rc 1 "$t"
expect_text err 'nosuch' "$t"

t='call with the wrong number of arguments'
cli call local core.getenv
expect_rc 2 "$t"
expect_text err 'takes 1 argument' "$t"
expect_text err 'core.getenv (s) -> ms' "$t"

t='call with an argument of the wrong type'
cli call local core.sleep soon
expect_rc 2 "$t"
expect_text err 'argument 1 of core.sleep' "$t"

t='unknown context'
cli call nowhere core.getpid
expect_rc 2 "$t"
expect_text err 'ssh:\[USER@\]HOST' "$t"

t='transports'
cli transports
expect_rc 0 "$t"
expect_text out '^local	.*mitogen-transport-local\.so$' "$t"

t='call local FILE.so module.fn'
if [ -n "${MITOGEN_TEST_MODULES_DIR:-}" ]; then
  cli call local "$MITOGEN_TEST_MODULES_DIR/dep.so" dep.value
  expect_rc 0 "$t"
  expect_text out '^41$' "$t"
fi

t='call fork/fork core.getpid'
cli call fork/fork core.getpid
expect_rc 0 "$t"
expect_text out '^[0-9][0-9]*$' "$t"

t='--help'
cli --help
expect_rc 0 "$t"
expect_text out 'call CONTEXT MODULE.FUNCTION' "$t"

t='no command'
cli
expect_rc 2 "$t"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all CLI checks passed"
