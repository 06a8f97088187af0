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

# $1 seconds stretched by the suite's one multiplier for deadlines
# (MITOGEN_TEST_TIMEOUT_MULTIPLIER, see mitogen-test-util.h), rounded up.
scaled () {
  awk -v s="$1" -v m="${MITOGEN_TEST_TIMEOUT_MULTIPLIER:-1}" \
    'BEGIN { if (m !~ /^[0-9.]+$/ || m < 1) m = 1; t = s * m;
             printf "%d\n", t == int (t) ? t : int (t) + 1 }'
}

# Every connection gets the library's default connect timeout, scaled, so
# that a busy machine does not fail it.
connect_timeout=$(scaled 30)

# Runs the CLI with stdout and stderr kept apart in $tmp/out and $tmp/err;
# sets $rc.
cli () {
  "$cli" --connect-timeout="$connect_timeout" "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

# Like cli, with the output of the shell command $1 as stdin. (A shell
# function in a pipeline runs in a subshell: its $rc would be lost.)
cli_fed () {
  feeder=$1
  shift
  sh -c "$feeder" | {
    "$cli" --connect-timeout="$connect_timeout" "$@" >"$tmp/out" 2>"$tmp/err"
    echo $? >"$tmp/rc"
  }
  rc=$(cat "$tmp/rc")
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

expect_no_secret () {
  for f in out err; do
    if grep -q -- "$2" "$tmp/$f"; then fail "$1: the password is on std$f"; fi
  done
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

t='call core.read_file on a file over max_message_size'
# Sparse: 130 MiB on no disk. The reply cannot travel; the call says why.
truncate -s 130M "$tmp/big"
cli call local core.read_file "'$tmp/big'"
expect_rc 1 "$t"
expect_text err 'core.read_file is [0-9]* bytes, over max_message_size' "$t"
expect_text err 'mitogen_context_get_file() (mitogen copy)' "$t"
expect_empty out "$t"
rm -f "$tmp/big"

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

# Passwords and host keys

t='--help explains passwords and host keys'
cli --help
expect_rc 0 "$t"
for option in --ask-password --password-fd --host-key-policy --identity-file \
    --known-hosts 'never taken on the command line'; do
  expect_text out "$option" "$t"
done

t='no password option'
cli --password=s3cret call local core.getpid
expect_rc 2 "$t"
expect_text err 'never taken on the command line' "$t"
expect_no_secret "$t" s3cret

t='--host-key-policy takes enforce, accept-new or ignore'
cli --host-key-policy=trusting call ssh:localhost core.getpid
expect_rc 2 "$t"
expect_text err 'enforce, accept-new or ignore, not .trusting.' "$t"

t='--ask-password and --password-fd together'
cli --ask-password --password-fd=0 call sudo:mitogen-test core.getpid </dev/null
expect_rc 2 "$t"
expect_text err 'cannot be given together' "$t"

t='--password-fd of a closed descriptor'
cli --password-fd=9 call sudo:mitogen-test core.getpid 9<&-
expect_rc 2 "$t"
expect_text err '9 is not an open descriptor' "$t"

t='--password-fd giving nothing'
cli --password-fd=3 call sudo:mitogen-test core.getpid 3</dev/null
expect_rc 1 "$t"
expect_text err 'descriptor 3 gave no password' "$t"

t='--password-fd without a hop that takes a password'
cli --password-fd=3 call local core.getpid 3</dev/null
expect_rc 0 "$t"

if command -v setsid >/dev/null; then
  t='--ask-password without a terminal'
  setsid -w "$cli" --connect-timeout="$connect_timeout" --ask-password \
    call sudo:mitogen-test core.getpid \
    </dev/null >"$tmp/out" 2>"$tmp/err"
  rc=$?
  expect_rc 1 "$t"
  expect_text err 'needs a terminal' "$t"
else
  echo "SKIP: --ask-password without a terminal: no setsid"
fi

# sudo's password prompt, reached as mitogen-test-admin, who may become
# mitogen-test only with its password (scripts/setup-test-env). Needs root.
admin=mitogen-test-admin
target=mitogen-test
password=s3cret-pass

# Why the sudo checks cannot run here, or nothing.
sudo_unavailable () {
  [ "$(id -u)" -eq 0 ] || { echo 'needs root (as in CI)'; return; }
  for program in sudo runuser; do
    command -v "$program" >/dev/null || { echo "$program is not installed"; return; }
  done
  id "$admin" >/dev/null 2>&1 && id "$target" >/dev/null 2>&1 ||
    { echo "users $admin and $target are missing: run scripts/setup-test-env"; return; }
  runuser -u "$admin" -- test -x "$cli" ||
    echo "$cli is not executable by $admin (build tree not world-readable?)"
}

# Like cli, as $admin; the environment, and descriptors the caller
# redirects, are kept.
cli_as_admin () {
  runuser -u "$admin" -- "$cli" --connect-timeout="$connect_timeout" "$@" \
    >"$tmp/out" 2>"$tmp/err"
  rc=$?
}

why=$(sudo_unavailable)
if [ -n "$why" ]; then
  echo "SKIP: sudo with a password: $why"
else
  printf '%s\n' "$password" >"$tmp/password"
  printf 'not-the-password\n' >"$tmp/wrong"

  t='sudo with the password from --password-fd'
  cli_as_admin --password-fd=3 run "sudo:$target" -- id -un 3<"$tmp/password"
  expect_rc 0 "$t"
  expect_line out "$target" "$t"
  expect_no_secret "$t" "$password"

  t='sudo with a wrong password from --password-fd'
  start=$(date +%s)
  cli_as_admin --password-fd=3 run "sudo:$target" -- id -un 3<"$tmp/wrong"
  took=$(($(date +%s) - start))
  expect_rc 1 "$t"
  expect_text err "incorrect password for $target" "$t"
  expect_no_secret "$t" not-the-password
  [ "$took" -lt "$(scaled 15)" ] || fail "$t: took ${took}s, not refused at once"

  t='sudo asking for a password none was given for'
  cli_as_admin run "sudo:$target" -- id -un
  expect_rc 1 "$t"
  expect_text err 'password' "$t"
  expect_text err 'give it with --ask-password' "$t"

  # At a terminal: the prompt is answered, and what is typed not echoed.
  if command -v python3 >/dev/null; then
    t='sudo with --ask-password at a terminal'
    python3 - "$admin" "$cli" "sudo:$target" "$password" "$connect_timeout" \
        >"$tmp/out" 2>"$tmp/err" <<'PYTHON'
import os, pty, select, sys, time

admin, cli, spec, password, timeout = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp('runuser', ['runuser', '-u', admin, '--', cli,
                          '--connect-timeout=' + timeout, '--ask-password',
                          'run', spec, '--', 'id', '-un'])

transcript = b''

def read_until(done, seconds):
    """Reads the terminal until done(transcript), its end, or the time."""
    global transcript
    deadline = time.monotonic() + seconds
    while not done(transcript):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the terminal's last user is gone
            return done(transcript)
        if not chunk:
            return done(transcript)
        transcript += chunk
    return True

prompt = ('Password for %s: ' % spec).encode()
if not read_until(lambda t: prompt in t, float(timeout)):
    sys.exit('no prompt; got %r' % transcript)
os.write(fd, password.encode() + b'\n')
read_until(lambda t: False, float(timeout))
_, status = os.waitpid(pid, 0)
sys.stdout.write(transcript.decode(errors='replace').replace('\r', ''))
sys.exit(os.waitstatus_to_exitcode(status))
PYTHON
    rc=$?
    expect_rc 0 "$t"
    expect_text out "Password for sudo:$target: " "$t"
    expect_line out "$target" "$t"
    expect_no_secret "$t" "$password"
  else
    echo "SKIP: --ask-password at a terminal: no python3"
  fi
fi

# copy: a tree to a context and a file back; no progress bar off a
# terminal, so stderr stays empty.
t="copy -r to local, copy back"
mkdir -p "$tmp/tree/sub" && printf 'one\n' >"$tmp/tree/a" &&
  head -c 300000 /dev/urandom >"$tmp/tree/sub/b" && ln -s a "$tmp/tree/link" &&
  chmod 0750 "$tmp/tree/sub"
cli copy -r "$tmp/tree" "local:$tmp/copy"
expect_rc 0 "$t"
expect_empty err "$t"
cmp -s "$tmp/tree/sub/b" "$tmp/copy/sub/b" || fail "$t: sub/b differs"
[ "$(readlink "$tmp/copy/link")" = a ] || fail "$t: link not a symlink to a"
[ "$(stat -c %a "$tmp/copy/sub")" = 750 ] || fail "$t: sub lost its mode"
cli copy "local:$tmp/copy/sub/b" "$tmp/back"
expect_rc 0 "$t"
cmp -s "$tmp/tree/sub/b" "$tmp/back" || fail "$t: the file copied back differs"
t="copy -r a tree back from local"
cli copy -r "local:$tmp/copy" "$tmp/back-tree"
expect_rc 0 "$t"
expect_empty err "$t"
cmp -s "$tmp/tree/sub/b" "$tmp/back-tree/sub/b" || fail "$t: sub/b differs"
[ "$(readlink "$tmp/back-tree/link")" = a ] || fail "$t: link not a symlink to a"
[ "$(stat -c %a "$tmp/back-tree/sub")" = 750 ] || fail "$t: sub lost its mode"
t="copy of a directory from a context without -r"
cli copy "local:$tmp/copy" "$tmp/back-tree2"
expect_rc 2 "$t"
expect_text err "copy it with -r" "$t"
t="copy of a directory without -r"
cli copy "$tmp/tree" "local:$tmp/copy2"
expect_rc 2 "$t"
expect_text err "copy it with -r" "$t"
# setns and the container exec transports

t='transports lists setns and the container tools'
cli transports
for name in setns docker podman buildah lxc lxd incus kubectl jail; do
  expect_text out "^$name	.*mitogen-transport-$name\.so$" "$t"
done

t='setns:PID is a number'
cli call setns:init core.getpid
expect_rc 2 "$t"
expect_text err 'not of the form setns:PID' "$t"
t='setns:KIND:CONTAINER of an unknown kind'
cli call setns:rkt:box core.getpid
expect_rc 1 "$t"
expect_text err 'unknown container kind “rkt”' "$t"

# A namespace of our own, its init a sleep; unshare prints "ready" once the
# hostname is set, and a fifo gives the wait an event to block on.
mkfifo "$tmp/ns-ready"
unshare --fork --pid --mount-proc --uts --net --mount sh -c \
  'hostname mitogen-cli-ns && echo ready >"$0" && exec sleep infinity' \
  "$tmp/ns-ready" 2>"$tmp/ns-err" &
unshare_pid=$!
if [ "$(cat "$tmp/ns-ready")" = ready ]; then
  ns_pid=$(cat "/proc/$unshare_pid/task/$unshare_pid/children")
  ns_pid=${ns_pid%% *}
  for spec in "setns:$ns_pid" "local/setns:$ns_pid"; do
    t="run $spec -- hostname"
    cli run "$spec" -- hostname
    expect_rc 0 "$t"
    expect_line out mitogen-cli-ns "$t"
  done
  # A stand-in podman that knows one container, the namespace's init.
  mkdir "$tmp/engine"
  printf '%s\n' '#!/bin/sh' \
    "[ \"\$*\" = 'inspect --format {{.State.Pid}} box' ] && exec echo $ns_pid" \
    'echo "Error: no such container" >&2; exit 125' >"$tmp/engine/podman"
  chmod +x "$tmp/engine/podman"
  for spec in "setns:podman:box" "local/setns:podman:box"; do
    t="run $spec -- hostname, podman a stand-in"
    PATH="$tmp/engine:$PATH" cli run "$spec" -- hostname
    expect_rc 0 "$t"
    expect_line out mitogen-cli-ns "$t"
  done
  t='setns:podman:NAME of an unknown container'
  PATH="$tmp/engine:$PATH" cli run setns:podman:nope -- hostname
  expect_rc 1 "$t"
  expect_text err 'podman knows no container “nope”: Error: no such container' "$t"
  kill -KILL "$ns_pid"
else
  echo "SKIP: setns from the CLI: cannot make namespaces: $(cat "$tmp/ns-err")"
fi
wait "$unshare_pid" 2>/dev/null

# No container engine runs here: a stand-in docker first on PATH runs the
# command it is given on this host (see test-container-exec.c).
mkdir "$tmp/bin"
printf '%s\n' '#!/bin/sh' 'while [ "$1" != /bin/sh ]; do shift; done' \
  'exec "$@"' >"$tmp/bin/docker"
chmod +x "$tmp/bin/docker"
t='call local/docker:box core.getpid, docker a stand-in'
PATH="$tmp/bin:$PATH" cli call local/docker:box core.getpid
expect_rc 0 "$t"
expect_text out '^[0-9][0-9]*$' "$t"
t='--version'
cli --version
expect_rc 0 "$t"
expect_line out 'mitogen [0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*' "$t"
expect_empty err "$t"

t='a command option taken for mitogen'\''s gets a hint to use --'
cli run local ls -l
expect_rc 2 "$t"
expect_text err 'Unknown option -l' "$t"
expect_text err 'after “--”' "$t"

t='an unknown option without a command gets no hint'
cli --no-such-option
expect_rc 2 "$t"
expect_text err 'Unknown option --no-such-option' "$t"
grep -q 'after “--”' "$tmp/err" && fail "$t: a hint about --"

# run: stdin, a pty, the statuses of a command that cannot start

t='run forwards stdin'
cli_fed 'echo hi' run local -- cat
expect_rc 0 "$t"
expect_line out 'hi' "$t"

t='run forwards stdin through an intermediate context'
cli_fed 'echo hi' run local/local -- cat
expect_rc 0 "$t"
expect_line out 'hi' "$t"

t='run forwards binary stdin whole, and its end'
head -c 3000000 /dev/urandom >"$tmp/binary"
printf '\000\377\000' >>"$tmp/binary"
cli run local -- cat <"$tmp/binary"
expect_rc 0 "$t"
cmp -s "$tmp/binary" "$tmp/out" || fail "$t: the output differs from the input"
cli run local -- wc -c <"$tmp/binary"
expect_line out 3000003 "$t"
rm -f "$tmp/binary"

t='run with an empty stdin'
cli run local -- cat </dev/null
expect_rc 0 "$t"
expect_empty out "$t"

t='run streams an endless stdin to a command that stops reading'
# Read whole, the input would never end; the command's end ends it.
cli_fed yes run local -- head -c 1000000
expect_rc 0 "$t"
[ "$(wc -c <"$tmp/out")" -eq 1000000 ] || fail "$t: not 1000000 bytes out"

t='run reads stdin only as fast as the command takes it'
# The producer counts the 64 KiB blocks it got written; the command reads
# nothing for 2 s. Under flow control only a window (1 MiB) and the pipes'
# buffers are taken meanwhile. A loaded machine can only make the producer
# slower, so this cannot fail for a correct mitogen.
cli_fed "n=0; while head -c 65536 /dev/zero; do n=\$((n + 1)); echo \$n >'$tmp/blocks'; done" \
  run local -- sh -c 'sleep 2; head -c 1 >/dev/null'
expect_rc 0 "$t"
blocks=$(cat "$tmp/blocks" 2>/dev/null || echo 0)
[ "$blocks" -le 64 ] || fail "$t: $blocks blocks of 64 KiB read ahead, over 4 MiB"

t='run writes stdin without blocking the reading of output'
# The command takes 8 KiB of its input, then writes 4 MB before reading
# on. The agent's next write of input finds room for less than its chunk:
# on a blocking pipe it would wait there, no longer reading the output
# the command is blocked writing.
cli_fed 'head -c 4000000 /dev/zero' run local -- \
  sh -c 'dd bs=8192 count=1 of=/dev/null 2>/dev/null; head -c 4000000 /dev/zero; cat >/dev/null'
expect_rc 0 "$t"
[ "$(wc -c <"$tmp/out")" -eq 4000000 ] || fail "$t: not 4000000 bytes out"

t='run sends output only as fast as our stdout takes it'
# The mirror image: the command counts the 64 KiB blocks it wrote, and
# nothing reads mitogen's stdout for 2 s. Output travels as progress
# under the stream's window, so only the window (2 MiB) and the pipes'
# and sockets' buffers fill meanwhile; without it the far side would
# read on and queue without bound.
"$cli" --connect-timeout="$connect_timeout" run local -- \
  sh -c "n=0; while head -c 65536 /dev/zero; do n=\$((n + 1)); echo \$n >'$tmp/blocks'; done" \
  2>"$tmp/err" | { sleep 2; head -c 1 >/dev/null; }
blocks=$(cat "$tmp/blocks" 2>/dev/null || echo 0)
[ "$blocks" -gt 0 ] || fail "$t: the command wrote nothing"
[ "$blocks" -le 96 ] || fail "$t: $blocks blocks of 64 KiB written ahead, over 6 MiB"

t='run -n: the command reads /dev/null'
cli_fed 'echo hi' run -n local -- cat
expect_rc 0 "$t"
expect_empty out "$t"

t='run -n leaves our stdin unread'
echo hi | {
  "$cli" --connect-timeout="$connect_timeout" run -n local -- true \
    >/dev/null 2>"$tmp/err"
  cat >"$tmp/out"
}
expect_line out 'hi' "$t"

t='run without -t: stdin is no terminal'
cli run local -- sh -c 'test -t 0'
expect_rc 1 "$t"

t='run -t: the command runs on a terminal'
cli run -t local -- sh -c 'test -t 0 && test -t 1 && tty' </dev/null
expect_rc 0 "$t"
expect_text out '^/dev/pts/' "$t"

t='run -t: stdin reaches the terminal'
cli_fed "printf 'abc\\n'" run -t local -- sh -c 'read x; echo "got:$x"'
expect_rc 0 "$t"
expect_text out 'got:abc' "$t"

t='run -t: the status of the command'
cli run -t local -- sh -c 'exit 3' </dev/null
expect_rc 3 "$t"

t='run of a command not found exits 127'
cli run local -- mitogen-no-such-command
expect_rc 127 "$t"
expect_text err 'mitogen-no-such-command' "$t"

t='run of a file that is not executable exits 126'
printf 'echo no\n' >"$tmp/not-executable"
chmod 0644 "$tmp/not-executable"
cli run local -- "$tmp/not-executable"
expect_rc 126 "$t"
expect_text err 'not-executable' "$t"

t='run of a directory exits 126'
cli run local -- "$tmp"
expect_rc 126 "$t"

# describe, and MODULE.FUNCTION before connecting

t='call of a word that is not MODULE.FUNCTION, before connecting'
# Were it to connect first, the error would be about the host.
cli call ssh:mitogen-no-such-host.invalid getpid
expect_rc 2 "$t"
expect_text err 'not of the form MODULE.FUNCTION' "$t"
grep -q 'invalid:\|resolve' "$tmp/err" && fail "$t: it connected first"

t='describe CONTEXT MODULE lists the functions'
cli describe local core
expect_rc 0 "$t"
expect_line out 'core.getpid () -> i' "$t"
expect_line out 'core.run_stream (asmsa{ss}a{sv}) -> (i)' "$t"
expect_text out '^    Return the process id' "$t"

t='describe CONTEXT MODULE.FUNCTION'
cli describe local core.getenv
expect_rc 0 "$t"
expect_line out 'core.getenv (s) -> ms' "$t"
[ "$(grep -c '^core\.' "$tmp/out")" -eq 1 ] || fail "$t: more than one function"

t='describe lists the agent'\''s own functions'
cli describe local agent
expect_rc 0 "$t"
expect_line out 'agent.functions (s) -> a(ssss)' "$t"

t='describe of a function the module lacks'
cli describe local core.nosuch
expect_rc 1 "$t"
expect_text err 'no function .nosuch.' "$t"

t='describe of a module not found'
cli describe local mitogen_no_such_module
expect_rc 1 "$t"
expect_text err 'mitogen_no_such_module' "$t"

# --json and -q

t='--json call prints the result as JSON'
cli --json call local core.echo "<(1, 'a', [true], {'k': <2.5>}, @ms nothing)>"
expect_rc 0 "$t"
expect_line out '\[1,"a",\[true\],{"k":2.5},null\]' "$t"

t='--json call: a double JSON cannot hold is null'
cli --json call local core.echo "<(inf, [nan, 2.0])>"
expect_rc 0 "$t"
expect_line out '\[null,\[null,2.0\]\]' "$t"

t='--json call of a string with quotes'
MITOGEN_TEST_VALUE='say "hi"\' cli --json call local core.getenv MITOGEN_TEST_VALUE
expect_rc 0 "$t"
expect_line out '"say \\"hi\\"\\\\"' "$t"

t='--json: an error is a JSON object on stderr'
cli --json call local core.fail boom
expect_rc 1 "$t"
expect_empty out "$t"
expect_line err '{"error":{"domain":"mitogen-core-test-error-quark","code":42,"message":"boom","context":"local\.[0-9]*"}}' "$t"

t='--json: a usage error is a JSON object on stderr'
cli --json call local getpid
expect_rc 2 "$t"
expect_text err '^{"error":{"domain":"g-option-context-error-quark","code":[0-9]*,"message":".*not of the form' "$t"

t='--json: a command not found'
cli --json run local -- mitogen-no-such-command
expect_rc 127 "$t"
expect_text err '^{"error":{"domain":"g-exec-error-quark","code":8,' "$t"

t='--json describe: an object a line'
cli --json describe local core.getpid
expect_rc 0 "$t"
expect_line out '{"function":"core.getpid","args":"()","result":"i","doc":"Return the process id of the context"}' "$t"

if command -v python3 >/dev/null; then
  t='--json output parses as JSON'
  cli --json call local core.stat /
  expect_rc 0 "$t"
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["type"] == "directory", d' \
    "$tmp/out" 2>>"$tmp/err" || fail "$t: not JSON, or not the stat of /"
  cli --json transports
  python3 -c 'import json, sys; [json.loads(l)["path"] for l in open(sys.argv[1])]' \
    "$tmp/out" 2>>"$tmp/err" || fail "$t: transports is not JSON a line"
fi

t='a warning of a context is shown'
cli call local testing.log 16 mitogen-test-warning
expect_rc 0 "$t"
expect_text err 'mitogen-test-warning' "$t"

t='-q shows no log records of contexts'
cli -q call local testing.log 16 mitogen-test-warning
expect_rc 0 "$t"
expect_line out '()' "$t"
expect_empty err "$t"

t='-q and -v together'
cli -q -v call local core.getpid
expect_rc 2 "$t"

# Against the test sshd (tests/mitogen-test-sshd-run), where it can run.
# Its sessions get a cache of their own, empty, so that the first connect
# uploads the agent.
sshd_run=${MITOGEN_TEST_SSHD_RUN:-$build/tests/mitogen-test-sshd-run}
mkdir "$tmp/cache" && chmod 755 "$tmp" "$tmp/cache"
mkfifo "$tmp/sshd-in"
"$sshd_run" "$(printf 'Match all\n  SetEnv SHLVL=1 XDG_CACHE_HOME=%s\n' "$tmp/cache")" \
  <"$tmp/sshd-in" >"$tmp/sshd-env" 2>"$tmp/sshd-err" &
sshd_pid=$!
exec 9>"$tmp/sshd-in"
# It prints where it is once sshd answers, or exits.
while [ ! -s "$tmp/sshd-env" ] && kill -0 "$sshd_pid" 2>/dev/null; do
  sleep 0.1
done
if [ -s "$tmp/sshd-env" ]; then
  . "$tmp/sshd-env"
  ssh_spec="ssh:root@127.0.0.1:$SSHD_PORT"
  ssh_opts="--identity-file=$SSHD_KEY --known-hosts=$SSHD_KNOWN_HOSTS --host-key-policy=accept-new"

  if command -v script >/dev/null; then
    t='the first ssh connect draws a progress line on a terminal'
    # shellcheck disable=SC2086 # one option a word
    script -qec "$cli --connect-timeout=$connect_timeout $ssh_opts call $ssh_spec core.getpid" \
      /dev/null >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    expect_rc 0 "$t"
    expect_text out "uploading the agent to ssh.127.0.0.1:$SSHD_PORT: .* MB (100%)" "$t"
  else
    echo "SKIP: ssh progress line: no script(1)"
  fi

  t='no progress line where stderr is not a terminal'
  # shellcheck disable=SC2086
  cli $ssh_opts call "$ssh_spec" core.getpid
  expect_rc 0 "$t"
  grep -q 'uploading the agent' "$tmp/err" && fail "$t: a progress line"

  t='--debug run ssh: shows the child'\''s debug records, and only frames cross'
  # shellcheck disable=SC2086
  cli --debug $ssh_opts run "$ssh_spec" -- echo hi
  expect_rc 0 "$t"
  expect_line out hi "$t"
  expect_text err "^\[ssh.127.0.0.1:$SSHD_PORT\] Context ssh.127.0.0.1:$SSHD_PORT (id 1, pid [0-9]*) started" "$t"
  grep -q 'Bad frame magic' "$tmp/err" && fail "$t: a bad frame"

  t='--debug run ssh:H/sudo:U'
  # shellcheck disable=SC2086
  cli --debug $ssh_opts run "$ssh_spec/sudo:mitogen-test" -- id -un
  expect_rc 0 "$t"
  expect_line out mitogen-test "$t"
  expect_text err 'sudo.mitogen-test\] Context sudo.mitogen-test (id 2' "$t"
  grep -q 'Bad frame magic' "$tmp/err" && fail "$t: a bad frame"
else
  echo "SKIP: ssh: $(cat "$tmp/sshd-err")"
fi
exec 9>&-
wait "$sshd_pid"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all CLI checks passed"
