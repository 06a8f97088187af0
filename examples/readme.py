#!/usr/bin/python3
# readme.py: the README's Python example, as a whole program: a child
# context on this host and one started from it, called, then left alive
# when the program ends.
#
# SPDX-License-Identifier: BSD-3-Clause

import gi

gi.require_version('Mitogen', '1.0')
from gi.repository import Mitogen  # noqa: E402

broker = Mitogen.Broker.new()
router = Mitogen.Router.new(broker)
child = router.connect_context('local', None, None, None)
grandchild = router.connect_context('local', None, child, None)
print(child.call('core.getpid'), grandchild.call('core.getpid'))
