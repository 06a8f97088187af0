/* mitogen-cli-copy.c: `mitogen copy [-r] SRC… CONTEXT:DST` and
 * `mitogen copy [-r] CONTEXT:SRC DST`, with a progress bar on a terminal.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* CONTEXT:PATH, PATH absolute: a CONTEXT never has ":/" in it (its hops
 * are joined by '/', its options by ':'), so the first one splits. */
static gboolean
split_remote (const gchar *word, gchar **spec, const gchar **path)
{
  const gchar *at = strstr (word, ":/");

  if (!at || at == word)
    return FALSE;
  if (spec)
    *spec = g_strndup (word, (gsize) (at - word));
  if (path)
    *path = at + 1;
  return TRUE;
}

gchar *
cli_copy_context (GStrv words, GError **error)
{
  guint n = g_strv_length (words);
  gchar *spec = NULL;

  if (n >= 3 && split_remote (words[n - 1], &spec, NULL))
    return spec;
  if (n == 3 && split_remote (words[1], &spec, NULL))
    return spec;
  g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                       "copy needs CONTEXT:/PATH as its destination, or as "
                       "its one source");
  return NULL;
}

typedef struct
{
  GMainLoop *loop;
  GAsyncResult *result;
} Wait;

static void
done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Wait *wait = user_data;

  wait->result = g_object_ref (result);
  g_main_loop_quit (wait->loop);
}

static void
show_progress (MitogenFileProgress *progress,
               GParamSpec *pspec,
               const gchar *name)
{
  guint64 done = mitogen_file_progress_get_bytes_done (progress);
  guint64 total = mitogen_file_progress_get_bytes_total (progress);
  g_autofree gchar *done_s = g_format_size (done);
  g_autofree gchar *total_s = g_format_size (total);
  guint percent = total ? (guint) (done * 100 / total) : 100;
  gchar bar[31];

  memset (bar, ' ', 30);
  memset (bar, '#', percent * 30 / 100);
  bar[30] = '\0';
  fprintf (stderr, "\r%s [%s] %3u%% %s of %s\033[K", name, bar, percent, done_s,
           total_s);
  fflush (stderr);
}

typedef void (*StartFunc) (MitogenContext *,
                           const gchar *,
                           const gchar *,
                           MitogenFileProgress *,
                           GCancellable *,
                           GAsyncReadyCallback,
                           gpointer);
typedef gboolean (*FinishFunc) (MitogenContext *, GAsyncResult *, GError **);

/* One transfer, with the main loop running so the progress is shown. */
static gboolean
transfer (MitogenContext *context,
          StartFunc start,
          FinishFunc finish,
          const gchar *src,
          const gchar *dst,
          GError **error)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (MitogenFileProgress) progress = NULL;
  g_autofree gchar *name = g_path_get_basename (src);
  Wait wait = { loop, NULL };
  gboolean ok;

  /* A bar only for a person: a pipe or a log gets nothing but errors. */
  if (isatty (STDERR_FILENO) && !cli_options.quiet)
    {
      progress = mitogen_file_progress_new ();
      g_signal_connect (progress, "notify::bytes-done",
                        G_CALLBACK (show_progress), name);
    }
  start (context, src, dst, progress, NULL, done_cb, &wait);
  g_main_loop_run (loop);
  ok = finish (context, wait.result, error);
  g_object_unref (wait.result);
  if (progress)
    {
      g_signal_handlers_disconnect_by_data (progress, name);
      fputs (ok ? "\n" : "\r\033[K", stderr);
    }
  return ok;
}

static gboolean
remote_is_dir (MitogenContext *context, const gchar *path)
{
  g_autoptr (GVariant) st = mitogen_context_call (
      context, "core.stat", g_variant_new ("(s)", path), NULL, NULL);
  const gchar *type = NULL;

  return st && g_variant_lookup (st, "type", "&s", &type)
         && g_str_equal (type, "directory");
}

static gchar *
target_path (const gchar *src, const gchar *dst, gboolean into)
{
  g_autofree gchar *base = g_path_get_basename (src);

  return into ? g_build_filename (dst, base, NULL) : g_strdup (dst);
}

static gboolean
put (MitogenContext *context, GStrv srcs, const gchar *dst, GError **error)
{
  gboolean into = g_strv_length (srcs) > 1 || remote_is_dir (context, dst);

  for (guint i = 0; srcs[i]; i++)
    {
      g_autofree gchar *to = target_path (srcs[i], dst, into);
      gboolean is_dir = g_file_test (srcs[i], G_FILE_TEST_IS_DIR);

      if (split_remote (srcs[i], NULL, NULL))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                       "“%s”: copy goes between here and one context", srcs[i]);
          return FALSE;
        }
      if (is_dir && !cli_options.recursive)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                       "“%s” is a directory: copy it with -r", srcs[i]);
          return FALSE;
        }
      if (!transfer (context,
                     is_dir ? mitogen_context_put_tree_async
                            : mitogen_context_put_file_async,
                     is_dir ? mitogen_context_put_tree_finish
                            : mitogen_context_put_file_finish,
                     srcs[i], to, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
get (MitogenContext *context,
     const gchar *src,
     const gchar *dst,
     GError **error)
{
  g_autofree gchar *to
      = target_path (src, dst, g_file_test (dst, G_FILE_TEST_IS_DIR));

  gboolean is_dir = remote_is_dir (context, src);

  if (is_dir && !cli_options.recursive)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                   "“%s” is a directory: copy it with -r", src);
      return FALSE;
    }
  if (is_dir)
    return transfer (context, mitogen_context_get_tree_async,
                     mitogen_context_get_tree_finish, src, to, error);
  return transfer (context, mitogen_context_get_file_async,
                   mitogen_context_get_file_finish, src, to, error);
}

gboolean
cli_command_copy (CliSession *session, GStrv words, int *status, GError **error)
{
  MitogenContext *context = cli_session_get_target (session);
  guint n = g_strv_length (words);
  const gchar *dst_path;

  if (split_remote (words[n - 1], NULL, &dst_path))
    {
      g_auto (GStrv) srcs = g_new0 (gchar *, n - 1);

      for (guint i = 1; i < n - 1; i++)
        srcs[i - 1] = g_strdup (words[i]);
      if (!put (context, srcs, dst_path, error))
        return FALSE;
    }
  else
    {
      const gchar *src_path = words[1];

      split_remote (words[1], NULL, &src_path);
      if (!get (context, src_path, words[2], error))
        return FALSE;
    }
  *status = CLI_EXIT_OK;
  return TRUE;
}
