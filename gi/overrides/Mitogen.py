# Mitogen.py: PyGObject overrides for libmitogen.
#
# Context.call() takes Python values and returns them: the arguments are
# packed into the GVariant the function's signature asks for, as the
# context that runs it describes it (agent.describe), and the result is
# unpacked, with byte arrays ('ay') as bytes. A context is a context
# manager that shuts it down.
#
# SPDX-License-Identifier: BSD-3-Clause

from gi.repository import GLib, Gio

from ..importer import modules
from ..overrides import override

Mitogen = modules['Mitogen']._introspection_module

__all__ = ['Context', 'unpack']


def unpack(variant):
    """A GVariant as Python values, byte arrays as bytes.

    GLib.Variant.unpack() gives 'ay' as a list of ints, which is neither
    what a file's contents nor a command's output are in Python.
    """
    if variant is None:
        return None
    signature = variant.get_type_string()
    if signature == 'ay':
        return variant.get_data_as_bytes().get_data()
    if signature == 'v':
        return unpack(variant.get_variant())
    if signature.startswith('m'):
        if variant.n_children() == 0:
            return None
        return unpack(variant.get_child_value(0))
    if signature[0] not in '(a{':
        return variant.unpack()
    children = [unpack(variant.get_child_value(i))
                for i in range(variant.n_children())]
    if signature.startswith('a{'):
        return dict(children)
    if signature.startswith('a'):
        return children
    return tuple(children)


def _is_raw(args):
    """The introspected form: (GVariant or None, GCancellable or None)."""
    if len(args) != 2:
        return False
    variant, cancellable = args
    return ((variant is None or isinstance(variant, GLib.Variant)) and
            (cancellable is None or isinstance(cancellable, Gio.Cancellable)))


class Context(Mitogen.Context):

    def describe(self, function, cancellable=None):
        """(args_type, result_type, doc) of MODULE.FUNCTION, as the
        context that runs it knows it; asked once per context."""
        cache = self.__dict__.setdefault('_mitogen_signatures', {})
        if function not in cache:
            module, dot, name = function.partition('.')
            if not module or not dot or not name:
                raise ValueError('%r is not of the form MODULE.FUNCTION'
                                 % (function,))
            reply = Mitogen.Context.call(
                self, 'agent.describe', GLib.Variant('(ss)', (module, name)),
                cancellable)
            cache[function] = reply.unpack()
        return cache[function]

    def pack_args(self, function, args, cancellable=None):
        """ARGS as the GVariant FUNCTION takes, typed by its signature."""
        if len(args) == 1 and isinstance(args[0], GLib.Variant):
            return args[0]
        args_type = self.describe(function, cancellable)[0]
        if GLib.VariantType.new(args_type).is_tuple():
            return GLib.Variant(args_type, tuple(args))
        if len(args) != 1:
            raise TypeError('%s takes one %s, not %d arguments'
                            % (function, args_type, len(args)))
        return GLib.Variant(args_type, args[0])

    def call(self, function, *args, cancellable=None):
        """Calls MODULE.FUNCTION with Python ARGS; returns Python values.

        call('core.getenv', 'HOME') packs 'HOME' as the function's '(s)'.
        The introspected form, call(function, variant_or_None,
        cancellable_or_None), is still accepted.
        """
        if _is_raw(args):
            variant, cancellable = args
        else:
            variant = self.pack_args(function, args, cancellable)
        return unpack(Mitogen.Context.call(self, function, variant,
                                           cancellable))

    def call_finish(self, result):
        """The Python values of a call_async() result."""
        return unpack(Mitogen.Context.call_finish(self, result))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        # Waits for the child to exit, so that none outlives the block.
        self.shutdown(True, None)
        return False


Context = override(Context)
