#!/bin/sh
# test-example-module.sh: the guide's function module (examples/greet.c)
# is served to a local context and called, as docs/writing-a-module.md
# says, and its error keeps its own domain.
#
# $1 is the directory holding greet.so; MITOGEN_CLI the build's mitogen.
#
# SPDX-License-Identifier: BSD-3-Clause
set -u
MITOGEN_PLUGIN_PATH=$1:$MITOGEN_PLUGIN_PATH
export MITOGEN_PLUGIN_PATH
status=0

out=$("$MITOGEN_CLI" call local greet.hello world 2>&1)
if [ "$out" = "'hello, world'" ]; then
  echo "ok 1 - greet.hello world is 'hello, world'"
else
  echo "not ok 1 - greet.hello world printed: $out"
  status=1
fi

out=$("$MITOGEN_CLI" call local greet.hello "''" 2>&1)
rc=$?
case "$rc:$out" in
  1:*"an empty name"*g-io-error-quark*)
    echo "ok 2 - an empty name fails in the module's domain" ;;
  *)
    echo "not ok 2 - an empty name gave status $rc: $out"
    status=1 ;;
esac
echo "1..2"
exit $status
