#!/usr/bin/python3
# test-examples.py: runs the README's examples (examples/) as a new user
# would, and checks that they end cleanly and promptly, without log spam,
# leaving no context behind: both return from their main with a child and
# a grandchild alive.
#
# Usage: test-examples.py C_PROGRAM [PYTHON PYTHON_PROGRAM]; the environment is
# meson's test environment (MITOGEN_AGENT, MITOGEN_TRANSPORT_PATH, ...,
# and for Python, GI_TYPELIB_PATH and LD_LIBRARY_PATH).
#
# SPDX-License-Identifier: BSD-3-Clause

import os
import subprocess
import sys
import threading
import time
import unittest

# Generous for a loaded machine, yet a hang fails rather than blocks.
WAIT = 20.0
# After its last output a program with contexts alive ends within the
# broker's grace period (3 s) and the kill bound (1.5 s); 3 s more for a
# loaded machine.
EXIT_BOUND = 7.5
# CPU the whole run may take: two local contexts start and are called.
# A program that busy-loops through the grace period takes several
# seconds of it.
CPU_BOUND = 2.0
# At most one log line per stream of the master (it has one).
MAX_LOG_LINES = 1


def gone(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return True
    return state in ('Z', 'X')


class ExampleTest(unittest.TestCase):
    def run_example(self, argv):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        # Drained as it comes: a flood must not block the program.
        stderr_lines = []
        drain = threading.Thread(target=lambda: stderr_lines.extend(proc.stderr))
        drain.start()
        deadline = time.monotonic() + WAIT
        line = proc.stdout.readline()
        printed = time.monotonic()
        self.assertLess(printed, deadline, 'the example took too long to connect')
        pids = [int(p) for p in line.split()]
        self.assertEqual(len(pids), 2, 'output: %r' % line)

        # Not proc.wait(): the CPU it used is part of the check.
        _, status, usage = os.wait4(proc.pid, 0)
        ended = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        drain.join()
        proc.stdout.close()
        proc.stderr.close()

        lines = [line.rstrip('\n') for line in stderr_lines]
        self.assertEqual(proc.returncode, 0, '\n'.join(lines[-20:]))
        self.assertLess(ended - printed, EXIT_BOUND, 'the example took too long to end')
        self.assertLess(usage.ru_utime + usage.ru_stime, CPU_BOUND,
                        'the example used too much CPU')
        self.assertLessEqual(len(lines), MAX_LOG_LINES, '\n'.join(lines[:5]))
        for pid in pids:
            while not gone(pid):
                self.assertLess(time.monotonic(), ended + WAIT,
                                'context %d outlived the example' % pid)
                time.sleep(0.01)

    def test_c(self):
        self.run_example([sys.argv[1]])

    @unittest.skipUnless(len(sys.argv) > 3, 'no PyGObject')
    def test_python(self):
        self.run_example(sys.argv[2:4])


if __name__ == '__main__':
    unittest.main(argv=sys.argv[:1])
