#!/bin/bash
# test-bash-completion.sh: docs/cli/mitogen.bash loads into bash-completion
# and completes the build's mitogen: commands, options, transports.
#
# Needs MITOGEN_CLI (the build's mitogen) and MITOGEN_TRANSPORT_PATH;
# $1 is the completion script.
#
# SPDX-License-Identifier: BSD-3-Clause
set -u

BASH_COMPLETION=/usr/share/bash-completion/bash_completion
if [ ! -r "$BASH_COMPLETION" ]; then
  echo "1..0 # SKIP bash-completion is not installed (scripts/install-deps)"
  exit 0
fi

# bash-completion expects an interactive-like shell; its errors must not
# end the test before it reports.
# shellcheck disable=SC1090
. "$BASH_COMPLETION"
# shellcheck disable=SC1090
. "$1" || { echo "Bail out! $1 does not load"; exit 1; }

# compopt works only inside a completion readline started; here it is
# called directly.
compopt () { :; }

bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT
ln -s "$MITOGEN_CLI" "$bindir/mitogen"
PATH=$bindir:$PATH

n=0
failed=0

# complete LINE: the candidates for the last word of LINE, one a line.
complete_line ()
{
  local line=$1
  COMP_LINE=$line
  COMP_POINT=${#line}
  read -r -a COMP_WORDS <<<"$line"
  [[ $line == *' ' ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _mitogen mitogen "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  printf '%s\n' "${COMPREPLY[@]}"
}

# expect LINE WORD...: each WORD is among LINE's candidates.
expect ()
{
  local line=$1 got w ok=1
  shift
  got=$(complete_line "$line")
  for w in "$@"; do
    grep -qxF -- "$w" <<<"$got" || ok=0
  done
  n=$((n + 1))
  if [ $ok = 1 ]; then
    echo "ok $n - '$line' completes $*"
  else
    echo "not ok $n - '$line' completes $*; got: $(echo $got)"
    failed=1
  fi
}

# expect_none LINE: no candidates.
expect_none ()
{
  local got
  got=$(complete_line "$1")
  n=$((n + 1))
  if [ -z "$got" ]; then
    echo "ok $n - '$1' completes nothing"
  else
    echo "not ok $n - '$1' completes nothing; got: $(echo $got)"
    failed=1
  fi
}

complete -p mitogen >/dev/null 2>&1 && r=ok || { r="not ok"; failed=1; }
n=$((n + 1)); echo "$r $n - complete -p mitogen is _mitogen"

expect 'mitogen ' call describe run copy transports
expect 'mitogen --' --json --no-stdin --quiet --tty --version
expect 'mitogen describe ' local fork sudo: ssh:
expect 'mitogen -t run ' local
expect 'mitogen r' run
expect 'mitogen --host' --host-key-policy=
expect 'mitogen --host-key-policy ' enforce accept-new ignore
expect 'mitogen call ' local fork sudo: ssh:
expect 'mitogen run lo' local
# Readline completes after the last ':' (a word break), so the candidates
# are trimmed to what follows it, as __ltrim_colon_completions does.
expect 'mitogen call ssh:web1/s' web1/sudo: web1/ssh:
expect 'mitogen -v run ' local
expect_none 'mitogen nosuch'
expect_none 'mitogen run local -- '

echo "1..$n"
exit $failed
