/* fuzz-common.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "fuzz-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const gchar *
field_text (const GLogField *fields, gsize n_fields, const gchar *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_strcmp0 (fields[i].key, key) == 0)
      return fields[i].length < 0 ? fields[i].value : "(binary)";
  return NULL;
}

/* The library's own domain and GLib's: a warning there, caused by what a
 * peer sent, is a bug. A forwarded record's own domain may warn. */
static gboolean
is_own_domain (const gchar *domain)
{
  return domain == NULL || g_str_equal (domain, "mitogen")
         || g_str_has_prefix (domain, "GLib");
}

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags level,
                 const GLogField *fields,
                 gsize n_fields,
                 gpointer user_data)
{
  const gchar *domain = field_text (fields, n_fields, "GLIB_DOMAIN");
  gboolean fatal = (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) != 0
                   || ((level & G_LOG_LEVEL_WARNING) && is_own_domain (domain));

  if (!fatal)
    return G_LOG_WRITER_HANDLED;
  fprintf (stderr, "fuzz: fatal log record (level 0x%x, domain %s): %s\n",
           (unsigned) level, domain ? domain : "(none)",
           field_text (fields, n_fields, "MESSAGE"));
  abort ();
}

void
fuzz_init_logging (void)
{
  static gsize done;

  if (g_once_init_enter (&done))
    {
      g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
      g_once_init_leave (&done, 1);
    }
}

MitogenBroker *
fuzz_get_broker (void)
{
  static MitogenBroker *broker;

  if (g_once_init_enter (&broker))
    {
      fuzz_init_logging ();
      g_once_init_leave (&broker, mitogen_broker_new ());
    }
  return broker;
}

typedef struct
{
  void (*func) (gpointer data);
  gpointer data;
  GMutex lock;
  GCond cond;
  gboolean done;
} Job;

static void
run_job (gpointer user_data)
{
  Job *job = user_data;

  job->func (job->data);
  g_mutex_lock (&job->lock);
  job->done = TRUE;
  g_cond_signal (&job->cond);
  g_mutex_unlock (&job->lock);
}

void
fuzz_run_on_broker (void (*func) (gpointer data), gpointer data)
{
  MitogenBroker *broker = fuzz_get_broker ();
  Job job = { func, data };

  if (mitogen_broker_is_broker_thread (broker))
    {
      func (data);
      return;
    }
  g_mutex_init (&job.lock);
  g_cond_init (&job.cond);
  if (!mitogen_broker_defer (broker, run_job, &job, NULL))
    abort ();
  g_mutex_lock (&job.lock);
  while (!job.done)
    g_cond_wait (&job.cond, &job.lock);
  g_mutex_unlock (&job.lock);
  g_mutex_clear (&job.lock);
  g_cond_clear (&job.cond);
}
