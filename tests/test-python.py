#!/usr/bin/python3
# test-python.py: libmitogen through GObject introspection, as a Python
# master would use it.
#
# Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH set to the build's
# libmitogen-core/mitogen, and MITOGEN_TRANSPORT_PATH, MITOGEN_PLUGIN_PATH
# and MITOGEN_AGENT to the build tree (meson's test environment does).
#
# SPDX-License-Identifier: BSD-3-Clause

import os
import socket
import unittest

import gi

gi.require_version('Mitogen', '1.0')
from gi.repository import GLib, Mitogen  # noqa: E402



def timeout_multiplier():
    """The suite's one multiplier for deadlines (see mitogen-test-util.h)."""
    try:
        m = float(os.environ.get('MITOGEN_TEST_TIMEOUT_MULTIPLIER', '1'))
    except ValueError:
        return 1.0
    return m if 1.0 <= m < float('inf') else 1.0


# Long enough for a loaded CI machine; a hang fails rather than blocks.
ASYNC_TIMEOUT_SECONDS = int(30 * timeout_multiplier() + 0.999)
# The library's default connect timeout, scaled.
CONNECT_OPTIONS = GLib.Variant(
    'a{sv}', {'connect-timeout': GLib.Variant('d', 30.0 * timeout_multiplier())})


class ContextTest(unittest.TestCase):
    """One local child for all the tests: starting one is the slow part."""

    @classmethod
    def setUpClass(cls):
        cls.broker = Mitogen.Broker.new()
        cls.router = Mitogen.Router.new(cls.broker)
        cls.context = cls.router.connect_context('local',
                                              CONNECT_OPTIONS, None, None)

    @classmethod
    def tearDownClass(cls):
        # Waits for the child to exit, so that none is left behind.
        cls.context.shutdown(True, None)
        cls.broker.shutdown()
        cls.broker.join()

    def child_pid(self):
        stream = self.context.get_stream()
        return stream.props.pid if stream is not None else None

    def test_connected(self):
        self.assertTrue(self.context.is_connected())
        self.assertTrue(self.context.get_name().startswith('local'))

    def test_call_getpid(self):
        result = self.context.call('core.getpid', None, None)

        self.assertIsInstance(result, GLib.Variant)
        self.assertEqual(result.get_type_string(), 'i')
        pid = result.unpack()
        self.assertGreater(pid, 0)
        self.assertNotEqual(pid, os.getpid())
        if self.child_pid():
            self.assertEqual(pid, self.child_pid())

    def test_call_with_args(self):
        result = self.context.call('core.getenv',
                                   GLib.Variant('(s)', ('PATH',)), None)

        self.assertEqual(result.get_type_string(), 'ms')
        self.assertEqual(result.unpack(), os.environ.get('PATH'))

    def test_call_async_hostname(self):
        loop = GLib.MainLoop()
        outcome = {}

        def on_reply(context, result, user_data):
            try:
                outcome['value'] = context.call_finish(result)
            except GLib.Error as e:
                outcome['error'] = e
            loop.quit()

        def on_timeout():
            outcome['timed out'] = True
            loop.quit()
            return GLib.SOURCE_REMOVE

        self.context.call_async('core.hostname', None, None, on_reply, None)
        timeout_id = GLib.timeout_add_seconds(ASYNC_TIMEOUT_SECONDS, on_timeout)
        loop.run()
        if 'timed out' not in outcome:
            GLib.source_remove(timeout_id)

        self.assertNotIn('timed out', outcome)
        self.assertNotIn('error', outcome)
        self.assertEqual(outcome['value'].unpack(), socket.gethostname())

    def test_call_fail(self):
        with self.assertRaises(GLib.Error) as caught:
            self.context.call('core.fail', GLib.Variant('(s)', ('boom',)),
                              None)

        error = caught.exception
        self.assertTrue(error.matches(Mitogen.call_error_quark(),
                                      Mitogen.CallError.REMOTE))
        self.assertIn('boom', error.message)
        self.assertIn(self.context.get_name(), error.message)

    # The domain's name is MitogenCallError: G_DEFINE_EXTENDED_ERROR
    # registers the type name, unlike the other libmitogen domains
    # (mitogen-stream-error-quark, ...). Drop the decorator once
    # mitogen-errors.c registers "mitogen-call-error-quark".
    def test_call_fail_domain_name(self):
        with self.assertRaises(GLib.Error) as caught:
            self.context.call('core.fail', GLib.Variant('(s)', ('boom',)),
                              None)

        self.assertEqual(caught.exception.domain, 'mitogen-call-error-quark')

    def test_no_such_function(self):
        with self.assertRaises(GLib.Error) as caught:
            self.context.call('nosuch.fn', None, None)

        self.assertTrue(caught.exception.matches(
            Mitogen.call_error_quark(), Mitogen.CallError.NO_SUCH_FUNCTION))

    def test_select_get_returns_message(self):
        # select.get() hands Python the message and the receiver it came
        # to, as Mitogen's Select.get() does: no ctypes needed.
        recv = Mitogen.Receiver.new(self.router, 0, True, 0xffffffff, None)
        select = Mitogen.Select.new(False)
        select.add(recv)
        msg = Mitogen.Message.new(self.router.get_context_id(),
                                  recv.get_handle(), GLib.Variant('s', 'hi'))
        self.router.route(msg)
        got, source = select.get(ASYNC_TIMEOUT_SECONDS * 1000000, None)
        self.assertEqual(got.get_data().unpack(), 'hi')
        self.assertEqual(source, recv)
        with self.assertRaises(GLib.Error) as caught:
            select.add(recv)
        self.assertTrue(caught.exception.matches(
            Mitogen.select_error_quark(), Mitogen.SelectError.OWNED))


if __name__ == '__main__':
    unittest.main(verbosity=2)
