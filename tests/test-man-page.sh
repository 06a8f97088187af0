#!/bin/sh
# test-man-page.sh: docs/cli/mitogen.1 formats without a groff warning and
# names every long option `mitogen --help` lists.
#
# $1 is the man page; MITOGEN_CLI the build's mitogen.
#
# SPDX-License-Identifier: BSD-3-Clause
set -u
page=$1
status=0

warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
if [ -n "$warnings" ]; then
  echo "not ok 1 - groff warns: $warnings"
  status=1
else
  echo "ok 1 - groff formats it without warnings"
fi

# The man page escapes '-' as '\-'.
text=$(sed 's/\\-/-/g' "$page")
missing=""
for option in $("$MITOGEN_CLI" --help | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z-]*\).*/\2/p'); do
  printf '%s\n' "$text" | grep -q -e "$option" || missing="$missing $option"
done
if [ -n "$missing" ]; then
  echo "not ok 2 - options not in the man page:$missing"
  status=1
else
  echo "ok 2 - every option of mitogen --help is in the man page"
fi
echo "1..2"
exit $status
