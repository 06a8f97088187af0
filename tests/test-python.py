#!/usr/bin/python3
# test-python.py: libmitogen through GObject introspection, as a Python
# master would use it.
#
# Needs GI_TYPELIB_PATH and LD_LIBRARY_PATH set to the build's
# libmitogen-core/mitogen, PYTHONPATH to the source tree (for
# gi/overrides/Mitogen.py), and MITOGEN_TRANSPORT_PATH, MITOGEN_PLUGIN_PATH
# and MITOGEN_AGENT to the build tree (meson's test environment does).
#
# SPDX-License-Identifier: BSD-3-Clause

import os
import socket
import tempfile
import unittest

import gi

gi.require_version('Mitogen', '1.0')
from gi.repository import GLib, GObject, Mitogen  # noqa: E402
from gi._gi import InterfaceInfo, ObjectInfo, Repository  # noqa: E402



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
        pid = self.context.call('core.getpid', None, None)

        self.assertIsInstance(pid, int)
        self.assertGreater(pid, 0)
        self.assertNotEqual(pid, os.getpid())
        if self.child_pid():
            self.assertEqual(pid, self.child_pid())

    def test_call_with_args(self):
        result = self.context.call('core.getenv',
                                   GLib.Variant('(s)', ('PATH',)), None)

        self.assertEqual(result, os.environ.get('PATH'))

    # The overrides pack Python values by the function's signature, which
    # the child describes: getenv takes '(s)' and returns 'ms'.
    def test_call_packs_from_signature(self):
        self.assertEqual(self.context.call('core.getenv', 'HOME'),
                         os.environ.get('HOME'))
        self.assertIsNone(self.context.call(
            'core.getenv', 'MITOGEN_TEST_SURELY_UNSET'))
        self.assertEqual(self.context.call('core.getpid'),
                         self.context.call('core.getpid', None, None))

    def test_call_wrong_python_value(self):
        with self.assertRaises(TypeError):
            self.context.call('core.getenv', 42)

    def test_call_bytes(self):
        payload = b'\x00binary\xff\n'
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'f')
            self.context.call('core.write_file', path, payload, 0o600)
            data = self.context.call('core.read_file', path)

        self.assertIsInstance(data, bytes)
        self.assertEqual(data, payload)

    def test_describe(self):
        args_type, result_type, doc = self.context.describe('core.getenv')

        self.assertEqual((args_type, result_type), ('(s)', 'ms'))
        self.assertTrue(doc)

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
        self.assertEqual(outcome['value'], socket.gethostname())

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

    # Bindings rebuild a GError from its domain, code and message: the
    # remote details must survive that.
    def test_call_fail_remote_domain_and_code(self):
        with self.assertRaises(GLib.Error) as caught:
            self.context.call('core.fail', 'boom')

        error = caught.exception
        self.assertEqual(Mitogen.call_error_get_remote_domain(error),
                         'mitogen-core-test-error-quark')
        self.assertEqual(Mitogen.call_error_get_remote_code(error), 42)
        self.assertEqual(Mitogen.call_error_get_context_name(error),
                         self.context.get_name())

    def test_remote_details_of_local_error(self):
        error = GLib.Error.new_literal(Mitogen.call_error_quark(),
                                       'no details here',
                                       Mitogen.CallError.REFUSED)

        self.assertIsNone(Mitogen.call_error_get_remote_domain(error))
        self.assertEqual(Mitogen.call_error_get_remote_code(error), 0)

    # Only a whole trailer, as mitogen_call_error_new_remote() writes it,
    # is read back: anything else gives no details rather than wrong ones.
    def test_remote_details_malformed(self):
        for message in ('ctx: boom (dom, 99999999999)', 'ctx: boom (dom, x)',
                        'ctx: boom (dom, 3) trailing', 'ctx: boom (, 3)',
                        'no context (dom, 3)', 'ctx: boom (dom 3)', ''):
            error = GLib.Error.new_literal(Mitogen.call_error_quark(),
                                           message,
                                           Mitogen.CallError.REMOTE)
            self.assertIsNone(Mitogen.call_error_get_remote_domain(error),
                              message)
            self.assertEqual(Mitogen.call_error_get_remote_code(error), 0,
                             message)

        error = GLib.Error.new_literal(Mitogen.call_error_quark(),
                                       'ssh.web1: a (b, c) (g-io-error-quark, -3)',
                                       Mitogen.CallError.REMOTE)
        self.assertEqual(Mitogen.call_error_get_remote_domain(error),
                         'g-io-error-quark')
        self.assertEqual(Mitogen.call_error_get_remote_code(error), -3)
        self.assertEqual(Mitogen.call_error_get_context_name(error),
                         'ssh.web1')

    def test_no_such_function(self):
        with self.assertRaises(GLib.Error) as caught:
            self.context.call('nosuch.fn', None, None)

        self.assertTrue(caught.exception.matches(
            Mitogen.call_error_quark(), Mitogen.CallError.NO_SUCH_FUNCTION))


class ContextManagerTest(unittest.TestCase):

    def test_with_shuts_down(self):
        broker = Mitogen.Broker.new()
        router = Mitogen.Router.new(broker)
        try:
            with router.connect_context('local', CONNECT_OPTIONS, None,
                                        None) as child:
                self.assertTrue(child.is_connected())
                pid = child.call('core.getpid')
            self.assertFalse(child.is_connected())
            # shutdown(True) waited for the child: it is reaped and gone.
            with self.assertRaises(ProcessLookupError):
                os.kill(pid, 0)
        finally:
            broker.shutdown()
            broker.join()


def gobject_names():
    """Every name GObject.Object has in Python or in its typelib."""
    repo = Repository.get_default()
    names = {name for name in dir(GObject.Object) if not name.startswith('_')}
    info = repo.find_by_name('GObject', 'Object')
    names |= {m.get_name() for m in info.get_methods()}
    names |= {v.get_name() for v in info.get_vfuncs()}
    # What GJS adds to GObject.Object, beside connect/disconnect/emit.
    names |= {'connect_after', 'block_signal_handler',
              'unblock_signal_handler', 'stop_emission_by_name'}
    return names


def ancestors(info):
    """The classes and interfaces a class inherits methods from."""
    out = list(info.get_interfaces())
    parent = info.get_parent()
    while parent is not None:
        out.append(parent)
        out.extend(parent.get_interfaces())
        parent = parent.get_parent()
    return out


class TypelibNamesTest(unittest.TestCase):
    """No introspected method shadows one of GObject's or a parent's from
    another namespace: Context.connect hid GObject.Object.connect, so
    child.connect('disconnect', cb) raised TypeError."""

    def test_no_collision(self):
        repo = Repository.get_default()
        gobject = gobject_names()
        collisions = []
        n_methods = 0
        for info in repo.get_infos('Mitogen'):
            if not isinstance(info, (ObjectInfo, InterfaceInfo)):
                continue
            inherited = set(gobject)
            if isinstance(info, ObjectInfo):
                for parent in ancestors(info):
                    if parent.get_namespace() != 'Mitogen':
                        inherited |= {m.get_name()
                                      for m in parent.get_methods()}
            for method in info.get_methods():
                n_methods += 1
                if method.get_name() in inherited:
                    collisions.append(method.get_symbol())

        self.assertGreater(n_methods, 100)
        self.assertEqual(collisions, [])

    def test_private_types_not_introspected(self):
        # What only the library's own files use stays out of the typelib.
        repo = Repository.get_default()
        for name in ('Waker', 'Keepalive', 'IoLogger', 'IdAllocator'):
            self.assertIsNone(repo.find_by_name('Mitogen', name), name)
        self.assertIsNotNone(repo.find_by_name('Mitogen', 'Context'))
        stream = repo.find_by_name('Mitogen', 'ParentStream')
        methods = {m.get_name() for m in stream.get_methods()}
        self.assertFalse(methods & {'connect', 'send_config', 'write_secret'})

    def test_check_sees_a_collision(self):
        # The check itself: GObject.Object's own names are in the set.
        names = gobject_names()
        for name in ('connect', 'disconnect', 'emit', 'get_property',
                     'notify', 'ref', 'get_data', 'bind_property'):
            self.assertIn(name, names)


if __name__ == '__main__':
    unittest.main(verbosity=2)
