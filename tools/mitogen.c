/* mitogen: the command line of libmitogen.
 *
 *   mitogen call CONTEXT MODULE.FUNCTION [ARG...]
 *   mitogen describe CONTEXT MODULE[.FUNCTION]
 *   mitogen run CONTEXT -- COMMAND [ARG...]
 *   mitogen copy [-r] SRC... CONTEXT:DST | CONTEXT:SRC DST
 *   mitogen transports
 *
 * This file parses the command line and dispatches to the commands, each
 * in a mitogen-cli-*.c of its own.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "mitogen-cli.h"

#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Where a child's forwarded log records arrive: see write_log(). */
#define CHILD_LOG_DOMAIN_PREFIX "mitogen.ctx."

static const gchar summary[]
    = "Run functions and commands in other contexts (child processes, other\n"
      "users, other hosts, and chains of them), through libmitogen.\n"
      "\n"
      "Commands:\n"
      "  call CONTEXT MODULE.FUNCTION [ARG...]\n"
      "      Call a function and print its result in GVariant text format.\n"
      "      Each ARG is GVariant text, parsed as the type the function takes\n"
      "      in its place (asked of the context with agent.describe); where a\n"
      "      string is expected, a bare word is taken as that string.\n"
      "  describe CONTEXT MODULE[.FUNCTION]\n"
      "      List a module's functions (or one) with their argument and "
      "result\n"
      "      types and what they do, as the context has them.\n"
      "  run [-t|-n] CONTEXT -- COMMAND [ARG...]\n"
      "      Run a command with core.run_stream: our stdin is streamed to it\n"
      "      (under flow control, to its end), its stdout and stderr copied "
      "to\n"
      "      ours as they arrive; with -t on a pty, like ssh -t; with -n its\n"
      "      stdin is /dev/null, like ssh -n. Exit with its status (128+N\n"
      "      when killed by signal N; 127 when it is not found, 126 when it\n"
      "      cannot be executed).\n"
      "  copy [-r] SRC... CONTEXT:DST | CONTEXT:SRC DST\n"
      "      Copy files (and with -r directories) to or from a context.\n"
      "  transports\n"
      "      List the transports found, one a line, with their module files.";

static const gchar description[]
    = "Passwords and host keys:\n"
      "  A password is never taken on the command line, where other users\n"
      "  could read it. Each sudo or ssh hop answers its prompt with:\n"
      "  --ask-password     one asked for on the terminal (/dev/tty), without\n"
      "                     echo, before anything starts: once for each such "
      "hop\n"
      "  --password-fd=N    one read from descriptor N: a line for each such\n"
      "                     hop, in order, or a single line for all of them;\n"
      "                     e.g. mitogen --password-fd=3 ... 3<secret-file\n"
      "  Without either, a hop that asks for a password fails, saying so\n"
      "  (and naming --ask-password).\n"
      "  --host-key-policy, --identity-file and --known-hosts apply to every\n"
      "  ssh hop. Host key policies: enforce (the default: a host whose key "
      "is\n"
      "  not known is refused), accept-new (an unknown key is recorded, a\n"
      "  changed one refused), ignore (no checking; nothing recorded).\n"
      "\n"
      "Examples:\n"
      "  mitogen call local core.getpid\n"
      "  mitogen call local ./mymod.so mymod.fn   (a module on no path)\n"
      "  mitogen call local core.getenv HOME\n"
      "  mitogen call local core.sleep 0.5\n"
      "  mitogen call local core.fail '\"boom\"'\n"
      "  mitogen call local core.echo \"['a', 'b']\"\n"
      "  mitogen call local core.run \"['id']\" nothing nothing '{}'\n"
      "  mitogen describe local core\n"
      "  mitogen --json call local core.stat /etc/hostname\n"
      "  mitogen run local -- uname -a\n"
      "  tar -C site -cf - . | mitogen run ssh:web1 -- tar -C /srv/site -xf -\n"
      "  mitogen run -t ssh:web1 -- top\n"
      "  mitogen copy -r ./site local:/srv/site\n"
      "  mitogen copy ssh:web1:/etc/hostname ./web1-hostname\n"
      "  mitogen run -v local -- sh -c 'echo out; echo err >&2; exit 7'\n"
      "  mitogen --ask-password run ssh:alice@web1/sudo:root -- id\n"
      "  mitogen transports\n"
      "\n"
      "Everything after \"--\" is taken as it is, never as an option of "
      "mitogen:\n"
      "put it before a command's own options, or an ARG starting with '-'\n"
      "(mitogen call local core.echo -- '<-1>').\n"
      "\n"
      "Output for scripts:\n"
      "  -q/--quiet shows no log records of contexts, warnings included, and "
      "no\n"
      "  progress: only results and errors. --json prints results of call as\n"
      "  JSON (numbers, strings, booleans, null for nothing, arrays for "
      "arrays\n"
      "  and tuples, objects for dictionaries), describe's as a JSON object a\n"
      "  line, transports' as {\"name\", \"path\"} objects, and any error as\n"
      "  {\"error\": {\"domain\", \"code\", \"message\"[, \"context\"]}} on a\n"
      "  line of stderr, with the domain and code of the context that raised "
      "it.\n"
      "\n"
      "Exit status: 0 on success, 1 on failure, 2 on a usage error; run exits\n"
      "with the command's status.\n"
      "\n"
      "Environment:\n"
      "  MITOGEN_TRANSPORT_PATH  directories searched first for transports\n"
      "  MITOGEN_PLUGIN_PATH     directories searched first for function "
      "modules\n"
      "  MITOGEN_AGENT           the agent program children run\n";

CliOptions cli_options = {
  .connect_timeout = -1,
  .password_fd = G_MININT, /* any negative number given is refused */
};

static gboolean show_version;

static const GOptionEntry option_entries[] = {
  { "version", 0, 0, G_OPTION_ARG_NONE, &show_version,
    "Print the version and exit", NULL },
  { "connect-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &cli_options.connect_timeout,
    "Seconds each context gets to start (default: the transport's)",
    "SECONDS" },
  { "debug", 0, 0, G_OPTION_ARG_NONE, &cli_options.debug,
    "Have contexts forward their debug logs too (implies --verbose)", NULL },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &cli_options.verbose,
    "Show all log records of contexts, not only warnings and errors", NULL },
  { "ask-password", 0, 0, G_OPTION_ARG_NONE, &cli_options.ask_password,
    "Ask on the terminal, without echo, for the password of each sudo or "
    "ssh hop",
    NULL },
  { "password-fd", 0, 0, G_OPTION_ARG_INT, &cli_options.password_fd,
    "Read the passwords of sudo and ssh hops from descriptor N, a line each "
    "(one line serves all)",
    "N" },
  { "host-key-policy", 0, 0, G_OPTION_ARG_STRING, &cli_options.host_key_policy,
    "ssh hops: enforce (default), accept-new or ignore unknown host keys",
    "POLICY" },
  { "identity-file", 0, 0, G_OPTION_ARG_FILENAME, &cli_options.identity_file,
    "ssh hops: the private key to log in with", "PATH" },
  { "known-hosts", 0, 0, G_OPTION_ARG_FILENAME, &cli_options.known_hosts,
    "ssh hops: the known hosts file to check and record host keys in", "PATH" },
  { "recursive", 'r', 0, G_OPTION_ARG_NONE, &cli_options.recursive,
    "copy: directories and everything below them", NULL },
  { "ssh-compression", 0, 0, G_OPTION_ARG_NONE, &cli_options.ssh_compression,
    "ssh hops: compress the link (for slow networks)", NULL },
  { "tty", 't', 0, G_OPTION_ARG_NONE, &cli_options.tty,
    "run: the command on a pty, keys sent as typed (like ssh -t)", NULL },
  { "no-stdin", 'n', 0, G_OPTION_ARG_NONE, &cli_options.no_stdin,
    "run: the command's stdin is /dev/null, ours is left unread (like ssh -n)",
    NULL },
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &cli_options.quiet,
    "No log records of contexts and no progress: results and errors only",
    NULL },
  { "json", 0, 0, G_OPTION_ARG_NONE, &cli_options.json,
    "Results, and errors (on stderr), as JSON", NULL },
  { NULL }
};

static const gchar *const host_key_policies[] = {
  "enforce", "accept-new", "ignore", NULL
};

/* Stdio rather than g_print(): that converts to the locale's charset,
 * which in the C locale turns every non-ASCII character of a result or a
 * message into '?'. Results and messages are UTF-8 already. */
void
cli_print_error (const gchar *format,
                 ...)
{
  va_list args;

  va_start (args, format);
  fputs ("mitogen: ", stderr);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
}

static const gchar *
log_field (const GLogField *fields,
           gsize n_fields,
           const gchar *key)
{
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, key) && fields[i].length < 0)
      return fields[i].value;
  return NULL;
}

/* Runs on the broker thread for records forwarded by children. They are
 * what the user asked for less often than this process's own, so below
 * warning (the child's level, in MITOGEN_REMOTE_LEVEL: the library logs
 * them all at MESSAGE or below) they are shown only with --verbose. */
static GLogWriterOutput
write_log (GLogLevelFlags level,
           const GLogField *fields,
           gsize n_fields,
           gpointer user_data)
{
  const gchar *domain = log_field (fields, n_fields, "GLIB_DOMAIN");
  const gchar *context = log_field (fields, n_fields, "MITOGEN_CONTEXT");
  const gchar *message = log_field (fields, n_fields, "MESSAGE");
  const gchar *remote_level = log_field (fields, n_fields, "MITOGEN_REMOTE_LEVEL");
  const gchar *const shown[] = { "ERROR", "CRITICAL", "WARNING", NULL };

  if (!domain || !g_str_has_prefix (domain, CHILD_LOG_DOMAIN_PREFIX))
    return g_log_writer_default (level, fields, n_fields, user_data);
  if (cli_options.quiet)
    return G_LOG_WRITER_HANDLED;
  if (!cli_options.verbose && !(remote_level && g_strv_contains (shown, remote_level)))
    return G_LOG_WRITER_HANDLED;

  fprintf (stderr, "[%s] %s\n",
           context ? context : domain + strlen (CHILD_LOG_DOMAIN_PREFIX),
           message ? message : "");
  return G_LOG_WRITER_HANDLED;
}

/* Context specs */

/* Checks the options that need more than GOptionContext's parsing. */
static gboolean
check_options (GError **error)
{
  if (cli_options.ask_password && cli_options.password_fd != G_MININT)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--ask-password and --password-fd cannot be given "
                           "together");
      return FALSE;
    }
  if (cli_options.password_fd != G_MININT &&
      (cli_options.password_fd < 0 || fcntl (cli_options.password_fd, F_GETFD) < 0))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--password-fd: %d is not an open descriptor", cli_options.password_fd);
      return FALSE;
    }
  if (cli_options.quiet && (cli_options.verbose || cli_options.debug))
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--quiet and --verbose (or --debug) cannot be "
                           "given together");
      return FALSE;
    }
  if (cli_options.host_key_policy &&
      !g_strv_contains (host_key_policies, cli_options.host_key_policy))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--host-key-policy is enforce, accept-new or ignore, not "
                   "“%s”", cli_options.host_key_policy);
      return FALSE;
    }
  return TRUE;
}

/* transports */

static gboolean
command_transports (GError **error)
{
  MitogenTransportRegistry *registry = mitogen_transport_registry_get_default ();
  g_auto(GStrv) names = mitogen_transport_registry_list (registry);

  for (guint i = 0; names[i]; i++)
    {
      MitogenTransportModule *module =
        mitogen_transport_registry_lookup (registry, names[i], error);

      if (!module)
        return FALSE;
      if (cli_options.json)
        {
          g_autoptr (GString) line = g_string_new ("{\"name\":");

          cli_json_append_string (line, names[i]);
          g_string_append (line, ",\"path\":");
          cli_json_append_string (line,
                                  mitogen_transport_module_get_path (module));
          printf ("%s}\n", line->str);
        }
      else
        printf ("%s\t%s\n", names[i],
                mitogen_transport_module_get_path (module));
    }
  if (!names[0])
    cli_print_error ("no transports found; set MITOGEN_TRANSPORT_PATH to the "
                 "directory holding mitogen-transport-NAME.so");
  return fflush (stdout) == 0;
}

/* main */

/* Splits at the first "--": GOptionContext would take a command's own
 * options (`sh -c`) for ours, and drop later "--"s it should keep. */
static void
split_at_separator (int argc,
                    char **argv,
                    GStrv *ours,
                    GStrv *verbatim)
{
  g_autoptr(GStrvBuilder) before = g_strv_builder_new ();
  g_autoptr(GStrvBuilder) after = g_strv_builder_new ();
  gboolean seen = FALSE;

  for (int i = 0; i < argc; i++)
    {
      if (!seen && i > 0 && g_str_equal (argv[i], "--"))
        seen = TRUE;
      else
        g_strv_builder_add (seen ? after : before, argv[i]);
    }
  *ours = g_strv_builder_end (before);
  *verbatim = g_strv_builder_end (after);
}

/* The words of the command line that are not options: the parsed ones
 * (less the program name) and then those after "--". */
static GStrv
join_words (GStrv parsed,
            GStrv verbatim)
{
  g_autoptr(GStrvBuilder) words = g_strv_builder_new ();

  if (parsed[0])
    g_strv_builder_addv (words, (const char **) parsed + 1);
  g_strv_builder_addv (words, (const char **) verbatim);
  return g_strv_builder_end (words);
}

typedef struct _ContextCommand ContextCommand;
static const ContextCommand *find_context_command (const gchar *name);

/* Whether @ours names a command before its options end: then an unknown
 * option was most likely meant for the command run, not for mitogen. */
static gboolean
names_a_command (GStrv ours)
{
  for (guint i = 1; ours[i]; i++)
    if (find_context_command (ours[i]))
      return TRUE;
  return FALSE;
}

static gboolean
parse_command_line (GOptionContext *options,
                    int argc,
                    char **argv,
                    GStrv *words,
                    GError **error)
{
  g_auto(GStrv) ours = NULL;
  g_auto(GStrv) verbatim = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean command_given;

  split_at_separator (argc, argv, &ours, &verbatim);
  /* Said plainly, and without repeating the password in the message as
   * GOptionContext's "Unknown option --password=…" would. */
  for (guint i = 1; ours[i]; i++)
    if (g_str_equal (ours[i], "--password") ||
        g_str_has_prefix (ours[i], "--password="))
      {
        g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                             "a password is never taken on the command line, "
                             "where other users could read it: use "
                             "--ask-password or --password-fd");
        return FALSE;
      }
  command_given = names_a_command (ours);
  if (!g_option_context_parse_strv (options, &ours, &local_error))
    {
      if (command_given && g_error_matches (local_error, G_OPTION_ERROR,
                                            G_OPTION_ERROR_UNKNOWN_OPTION))
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_UNKNOWN_OPTION,
                     "%s (options for the command go after “--”, as in "
                     "mitogen run CONTEXT -- COMMAND -OPTION)",
                     local_error->message);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  *words = join_words (ours, verbatim);
  return TRUE;
}

static gboolean
want_words (GStrv words,
            guint at_least,
            const gchar *usage,
            GError **error)
{
  if (g_strv_length (words) >= at_least)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
               "usage: %s", usage);
  return FALSE;
}


/* A command that runs in a CONTEXT: words[0] is its name, words[1] the
 * CONTEXT. */
struct _ContextCommand {
  const gchar *name;
  const gchar *usage;
  guint min_words; /* with the name and the CONTEXT */
  gboolean (*run) (CliSession *session,
                   GStrv words,
                   int *status,
                   GError **error);
  /* The CONTEXT, when it is not words[1]; NULL for words[1]. */
  gchar *(*context_of) (GStrv words, GError **error);
  /* Checks the other words before connecting; nullable. */
  gboolean (*check) (GStrv words, GError **error);
};

static const ContextCommand context_commands[] = {
  { "call", "mitogen call CONTEXT MODULE.FUNCTION [ARG...]", 3,
    cli_command_call, NULL, cli_check_call },
  { "describe", "mitogen describe CONTEXT MODULE[.FUNCTION]", 3,
    cli_command_describe, NULL, cli_check_describe },
  { "run", "mitogen run [-t|-n] CONTEXT -- COMMAND [ARG...]", 3,
    cli_command_run },
  { "copy", "mitogen copy [-r] SRC... CONTEXT:DST | CONTEXT:SRC DST", 3,
    cli_command_copy, cli_copy_context },
};

static const ContextCommand *
find_context_command (const gchar *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (context_commands); i++)
    if (g_str_equal (context_commands[i].name, name))
      return &context_commands[i];
  return NULL;
}

/* Sets @status to the exit status on success. */
static gboolean
run_in_context (const ContextCommand *command,
                GStrv words,
                int *status,
                GError **error)
{
  g_autoptr(CliSession) session = NULL;
  g_autofree gchar *spec = NULL;

  if (!want_words (words, command->min_words, command->usage, error))
    return FALSE;
  spec = command->context_of ? command->context_of (words, error)
                             : g_strdup (words[1]);
  if (!spec)
    return FALSE;
  /* Mistakes are said before anything starts: a connect may take long. */
  if (command->check && !command->check (words, error))
    return FALSE;
  session = cli_session_connect (spec, error);
  if (!session)
    return FALSE;
  return command->run (session, words, status, error);
}

static gboolean
run_command (GStrv words,
             int *status,
             GError **error)
{
  const ContextCommand *command;

  *status = CLI_EXIT_OK;
  if (!words[0])
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "no command given; see mitogen --help");
      return FALSE;
    }
  if (g_str_equal (words[0], "transports"))
    return command_transports (error);
  command = find_context_command (words[0]);
  if (command)
    return run_in_context (command, words, status, error);

  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
               "unknown command “%s”; commands are call, describe, run, copy "
               "and transports",
               words[0]);
  return FALSE;
}

static gchar *
full_description (void)
{
  g_autofree gchar *specs = cli_describe_specs ();

  return g_strconcat ("CONTEXT:\n", specs, "\n", description, NULL);
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) options = g_option_context_new ("COMMAND [ARGS...]");
  g_autofree gchar *text = full_description ();
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) words = NULL;
  int status = CLI_EXIT_FAILED;

  setlocale (LC_ALL, "");

  g_option_context_set_summary (options, summary);
  g_option_context_set_description (options, text);
  g_option_context_add_main_entries (options, option_entries, NULL);

  if (!parse_command_line (options, argc, argv, &words, &error) ||
      !check_options (&error))
    {
      cli_report_error (error);
      return CLI_EXIT_USAGE;
    }
  if (show_version)
    {
      printf ("mitogen %s\n", MITOGEN_VERSION_S);
      return CLI_EXIT_OK;
    }
  /* Debug records are forwarded to be seen. */
  cli_options.verbose = cli_options.verbose || cli_options.debug;

  /* A first hop of `fork` is forked from a fork server, which must start
   * now, while this process has one thread. */
  if (words[0] && words[1] && (g_str_equal (words[1], "fork") ||
                               g_str_has_prefix (words[1], "fork/")) &&
      !mitogen_fork_server_start (&error))
    {
      cli_report_error (error);
      return CLI_EXIT_FAILED;
    }
  /* After the fork server: its children set their own writer, which GLib
   * allows once per process. */
  g_log_set_writer_func (write_log, NULL, NULL);

  if (!run_command (words, &status, &error))
    {
      cli_report_error (error);
      return error->domain == G_OPTION_ERROR ? CLI_EXIT_USAGE : CLI_EXIT_FAILED;
    }
  return status;
}
