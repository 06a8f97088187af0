#!/usr/bin/python3
# test-example-transport.py: the guide's transport (examples/mine.c) is
# found on MITOGEN_TRANSPORT_PATH and starts a context that answers calls,
# as docs/writing-a-transport.md says.
#
# Usage: test-example-transport.py DIR, DIR holding
# mitogen-transport-mine.so; the environment is the python test's.
#
# SPDX-License-Identifier: BSD-3-Clause

import os
import sys
import unittest

# Before the first registry is made, which reads it.
os.environ['MITOGEN_TRANSPORT_PATH'] = os.pathsep.join(
    [sys.argv.pop(1), os.environ.get('MITOGEN_TRANSPORT_PATH', '')])

import gi  # noqa: E402

gi.require_version('Mitogen', '1.0')
from gi.repository import GLib, Mitogen  # noqa: E402


def timeout_multiplier():
    """The suite's one multiplier for deadlines (see mitogen-test-util.h)."""
    try:
        m = float(os.environ.get('MITOGEN_TEST_TIMEOUT_MULTIPLIER', '1'))
    except ValueError:
        return 1.0
    return m if 1.0 <= m < float('inf') else 1.0


CONNECT_OPTIONS = GLib.Variant(
    'a{sv}', {'connect-timeout': GLib.Variant('d', 30.0 * timeout_multiplier())})


class ExampleTransportTest(unittest.TestCase):

    def test_connect_and_call(self):
        broker = Mitogen.Broker.new()
        router = Mitogen.Router.new(broker)
        try:
            with router.connect_context('mine', CONNECT_OPTIONS, None,
                                        None) as child:
                self.assertTrue(child.get_name().startswith('mine.'))
                pid = child.call('core.getpid')
                self.assertNotEqual(pid, os.getpid())
                self.assertIsInstance(child.get_stream(), Mitogen.ParentStream)
        finally:
            broker.shutdown()
            broker.join()

    # The registry lists what it found: the example among the shipped ones.
    def test_unknown_transport_lists_it(self):
        broker = Mitogen.Broker.new()
        router = Mitogen.Router.new(broker)
        try:
            with self.assertRaises(GLib.Error) as caught:
                router.connect_context('notmine', CONNECT_OPTIONS, None, None)
            message = caught.exception.message
            self.assertIn('known:', message)
            known = message.split('known:', 1)[1].split(')', 1)[0]
            self.assertIn('mine', [t.strip() for t in known.split(',')])
        finally:
            broker.shutdown()
            broker.join()


if __name__ == '__main__':
    unittest.main(verbosity=2)
