/* test-fork-log-writer.c: fork children of a master that set its own GLib
 * log writer before mitogen_fork_server_start()
 *
 * GLib lets a process set its writer once, and a fork child is a copy of
 * the master: it must keep the master's writer, not abort trying to set
 * its own. A program of its own, since the writer is set in main().
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>
#include <stdio.h>
#include "mitogen-test-util.h"

#define MARKER "hello-from-the-fork-child"

static GMutex lock;
static GCond cond;
static gboolean marker_seen;

/* The program's own writer: notes the marker, prints what it is given. In
 * a fork child, the same code runs and prints to the child's stderr. */
static GLogWriterOutput
own_writer (GLogLevelFlags level,
            const GLogField *fields,
            gsize n_fields,
            gpointer user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE"))
      {
        g_autofree gchar *text
            = fields[i].length < 0
                  ? g_strdup (fields[i].value)
                  : g_strndup (fields[i].value, (gsize) fields[i].length);

        g_mutex_lock (&lock);
        if (strstr (text, MARKER) && getpid () == GPOINTER_TO_INT (user_data))
          {
            marker_seen = TRUE;
            g_cond_broadcast (&cond);
          }
        g_mutex_unlock (&lock);
      }
  return g_log_writer_default (level, fields, n_fields, NULL);
}

/* The child works, and what it logs (through the master's writer, which
 * prints to its stderr) reaches the master. */
static void
test_fork_child_keeps_master_log_writer (void)
{
  g_autoptr (MitogenBroker) broker = NULL;
  g_autoptr (MitogenRouter) router = NULL;
  g_autoptr (MitogenContext) ctx = NULL;
  g_autoptr (GVariant) unit = NULL;
  gint64 deadline = g_get_monotonic_time () + MITOGEN_TEST_WAIT;

  mitogen_test_master_new (&broker, &router);
  ctx = mitogen_test_connect (router, "fork", NULL, NULL);
  g_assert_cmpint (mitogen_test_remote_pid (ctx), !=, getpid ());
  unit = mitogen_test_call_ok (
      ctx, "testing.log", g_variant_new ("(is)", G_LOG_LEVEL_MESSAGE, MARKER));

  g_mutex_lock (&lock);
  while (!marker_seen)
    if (!g_cond_wait_until (&cond, &lock, deadline))
      break;
  g_mutex_unlock (&lock);
  g_assert_true (marker_seen);

  mitogen_test_shutdown_ok (ctx);
  mitogen_test_master_stop (broker, NULL);
  mitogen_test_master_clear (&broker, &router);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  /* Before anything that starts a thread, as the fork server asks. */
  g_log_set_writer_func (own_writer, GINT_TO_POINTER (getpid ()), NULL);
  if (!mitogen_fork_server_start (&error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fork/child-keeps-master-log-writer",
                   test_fork_child_keeps_master_log_writer);
  return g_test_run ();
}
