/* mitogen-cli.h: what the parts of the mitogen command line share.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#pragma once

#include <mitogen/mitogen.h>

G_BEGIN_DECLS

/* Exit statuses; `run` exits with the command's own instead. Usage errors
 * are reported in G_OPTION_ERROR, like GOptionContext's own. */
enum
{
  CLI_EXIT_OK = 0,
  CLI_EXIT_FAILED = 1,
  CLI_EXIT_USAGE = 2,
};

/* The options common to every command, parsed in mitogen.c. */
typedef struct
{
  gdouble connect_timeout; /* negative: the transport's own */
  gboolean debug;
  gboolean verbose;
  gboolean ask_password;
  gint password_fd; /* G_MININT: not given */
  gchar *host_key_policy;
  gchar *identity_file;
  gchar *known_hosts;
  gboolean recursive; /* copy -r */
  gboolean ssh_compression;
  gboolean tty;      /* run -t */
  gboolean no_stdin; /* run -n */
  gboolean quiet;    /* -q: no messages but errors, no progress */
  gboolean json;     /* results and errors as JSON */
} CliOptions;

extern CliOptions cli_options;

void cli_print_error (const gchar *format, ...) G_GNUC_PRINTF (1, 2);

/* mitogen-cli-json.c: errors and results, as text or with --json */
void cli_report_error (const GError *error);
gboolean cli_print_result (GVariant *result);
void cli_json_append_string (GString *out, const gchar *text);
void cli_json_append_value (GString *out, GVariant *value);

/* mitogen-cli-spec.c: one hop of a CONTEXT */
gboolean cli_parse_hop (const gchar *hop,
                        gchar **transport,
                        GVariant **options,
                        GError **error);
gboolean cli_hop_takes_password (const gchar *transport);
GVariant *cli_add_common_options (GVariant *options,
                                  const gchar *transport,
                                  gboolean next_is_fork,
                                  const gchar *password);
gchar *cli_describe_specs (void);
gchar *cli_list_specs (void);

/* mitogen-cli-password.c */
GPtrArray *cli_gather_passwords (const gchar *spec, GError **error);

/* mitogen-cli-session.c: the contexts of one CONTEXT */
typedef struct
{
  MitogenBroker *broker;
  MitogenRouter *router;
  GPtrArray *contexts;
} CliSession;

gboolean cli_session_check_spec (const gchar *spec, GError **error);
CliSession *cli_session_connect (const gchar *spec, GError **error);
MitogenContext *cli_session_get_target (CliSession *session);
void cli_session_free (CliSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CliSession, cli_session_free)

/* The commands: words[0] is the command, words[1] its CONTEXT. */
gboolean cli_command_call (CliSession *session,
                           GStrv words,
                           int *status,
                           GError **error);
gboolean cli_check_call (GStrv words, GError **error);
gboolean cli_command_describe (CliSession *session,
                               GStrv words,
                               int *status,
                               GError **error);
gboolean cli_check_describe (GStrv words, GError **error);
gboolean
cli_command_run (CliSession *session, GStrv words, int *status, GError **error);

/* mitogen-cli-stdin.c: our stdin streamed to core.run_stream */
typedef struct _CliStdinPump CliStdinPump;

CliStdinPump *
cli_stdin_pump_start (MitogenRouter *router, guint32 target_id, int fd);
guint32 cli_stdin_pump_get_handle (CliStdinPump *pump);
gboolean cli_stdin_pump_finish (CliStdinPump *pump, GError **error);

/* mitogen-cli-copy.c: its CONTEXT is inside a SRC or DST word. */
gchar *cli_copy_context (GStrv words, GError **error);
gboolean cli_command_copy (CliSession *session,
                           GStrv words,
                           int *status,
                           GError **error);

G_END_DECLS
