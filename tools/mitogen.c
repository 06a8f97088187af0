/* mitogen: the command line of libmitogen.
 *
 *   mitogen call CONTEXT MODULE.FUNCTION [ARG...]
 *   mitogen run CONTEXT -- COMMAND [ARG...]
 *   mitogen transports
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <mitogen/mitogen.h>

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Exit statuses; `run` exits with the command's own instead. Usage errors
 * are reported in G_OPTION_ERROR, like GOptionContext's own. */
enum {
  EXIT_OK = 0,
  EXIT_FAILED = 1,
  EXIT_USAGE = 2,
};

/* Where a child's forwarded log records arrive: see write_log(). */
#define CHILD_LOG_DOMAIN_PREFIX "mitogen.ctx."

static const gchar summary[] =
  "Run functions and commands in other contexts (child processes, other\n"
  "users, other hosts, and chains of them), through libmitogen.\n"
  "\n"
  "Commands:\n"
  "  call CONTEXT MODULE.FUNCTION [ARG...]\n"
  "      Call a function and print its result in GVariant text format.\n"
  "      Each ARG is GVariant text, parsed as the type the function takes\n"
  "      in its place (asked of the context with agent.describe); where a\n"
  "      string is expected, a bare word is taken as that string.\n"
  "  run CONTEXT -- COMMAND [ARG...]\n"
  "      Run a command with core.run, copying its stdout and stderr to\n"
  "      ours as they arrive; exit with its status (128+N when killed by\n"
  "      signal N).\n"
  "  transports\n"
  "      List the transports found, one a line, with their module files.";

static const gchar description[] =
  "CONTEXT:\n"
  "  local                      a child process on this machine\n"
  "  fork                       a copy of the context it is started from\n"
  "  sudo:USER                  a process as USER, through sudo\n"
  "  ssh:[USER@]HOST[:PORT]     a process on HOST, through ssh\n"
  "  A/B                        B started from A, e.g. ssh:web1/sudo:root\n"
  "\n"
  "Passwords and host keys:\n"
  "  A password is never taken on the command line, where other users\n"
  "  could read it. Each sudo or ssh hop answers its prompt with:\n"
  "  --ask-password     one asked for on the terminal (/dev/tty), without\n"
  "                     echo, before anything starts: once for each such hop\n"
  "  --password-fd=N    one read from descriptor N: a line for each such\n"
  "                     hop, in order, or a single line for all of them;\n"
  "                     e.g. mitogen --password-fd=3 ... 3<secret-file\n"
  "  Without either, a hop that asks for a password fails, saying so.\n"
  "  --host-key-policy, --identity-file and --known-hosts apply to every\n"
  "  ssh hop. Host key policies: enforce (the default: a host whose key is\n"
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
  "  mitogen run local -- uname -a\n"
  "  mitogen run -v local -- sh -c 'echo out; echo err >&2; exit 7'\n"
  "  mitogen --ask-password run ssh:alice@web1/sudo:root -- id\n"
  "  mitogen transports\n"
  "\n"
  "Everything after \"--\" is taken as it is, never as an option of mitogen:\n"
  "put it before a command's own options, or an ARG starting with '-'\n"
  "(mitogen call local core.echo -- '<-1>').\n"
  "\n"
  "Exit status: 0 on success, 1 on failure, 2 on a usage error; run exits\n"
  "with the command's status.\n"
  "\n"
  "Environment:\n"
  "  MITOGEN_TRANSPORT_PATH  directories searched first for transports\n"
  "  MITOGEN_PLUGIN_PATH     directories searched first for function modules\n"
  "  MITOGEN_AGENT           the agent program children run\n";

static const gchar supported_specs[] =
  "local, fork, sudo:USER, ssh:[USER@]HOST[:PORT], or hops of those joined "
  "by '/'";

/* The common options. */
static gdouble opt_connect_timeout = -1;
static gboolean opt_debug;
static gboolean opt_verbose;
static gboolean opt_ask_password;
/* G_MININT: not given; any negative number given is refused. */
static gint opt_password_fd = G_MININT;
static gchar *opt_host_key_policy;
static gchar *opt_identity_file;
static gchar *opt_known_hosts;

static const GOptionEntry option_entries[] = {
  { "connect-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &opt_connect_timeout,
    "Seconds each context gets to start (default: the transport's)", "SECONDS" },
  { "debug", 0, 0, G_OPTION_ARG_NONE, &opt_debug,
    "Have contexts forward their debug logs too (implies --verbose)", NULL },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
    "Show all log records of contexts, not only warnings and errors", NULL },
  { "ask-password", 0, 0, G_OPTION_ARG_NONE, &opt_ask_password,
    "Ask on the terminal, without echo, for the password of each sudo or "
    "ssh hop", NULL },
  { "password-fd", 0, 0, G_OPTION_ARG_INT, &opt_password_fd,
    "Read the passwords of sudo and ssh hops from descriptor N, a line each "
    "(one line serves all)", "N" },
  { "host-key-policy", 0, 0, G_OPTION_ARG_STRING, &opt_host_key_policy,
    "ssh hops: enforce (default), accept-new or ignore unknown host keys",
    "POLICY" },
  { "identity-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_identity_file,
    "ssh hops: the private key to log in with", "PATH" },
  { "known-hosts", 0, 0, G_OPTION_ARG_FILENAME, &opt_known_hosts,
    "ssh hops: the known hosts file to check and record host keys in",
    "PATH" },
  { NULL }
};

static const gchar *const host_key_policies[] = {
  "enforce", "accept-new", "ignore", NULL
};

/* Longest password accepted, from a terminal or a descriptor. */
#define MAX_PASSWORD 4096

/* Stdio rather than g_print(): that converts to the locale's charset,
 * which in the C locale turns every non-ASCII character of a result or a
 * message into '?'. Results and messages are UTF-8 already. */
static void G_GNUC_PRINTF (1, 2)
print_error (const gchar *format,
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
  if (!opt_verbose && !(remote_level && g_strv_contains (shown, remote_level)))
    return G_LOG_WRITER_HANDLED;

  fprintf (stderr, "[%s] %s\n",
           context ? context : domain + strlen (CHILD_LOG_DOMAIN_PREFIX),
           message ? message : "");
  return G_LOG_WRITER_HANDLED;
}

/* Context specs */

static gboolean
parse_port (const gchar *text,
            guint *port,
            GError **error)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT16, &value, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "“%s” is not a port number", text);
      return FALSE;
    }
  *port = (guint) value;
  return TRUE;
}

/* ssh:[USER@]HOST[:PORT] */
static gboolean
parse_ssh_spec (const gchar *spec,
                const gchar *rest,
                GVariantDict *options,
                GError **error)
{
  const gchar *at = strchr (rest, '@');
  const gchar *host = at ? at + 1 : rest;
  const gchar *colon = strchr (host, ':');
  g_autofree gchar *hostname = colon ? g_strndup (host, (gsize) (colon - host))
                                     : g_strdup (host);
  guint port;

  if (!*hostname || (at && at == rest))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "“%s” is not of the form ssh:[USER@]HOST[:PORT]", spec);
      return FALSE;
    }
  g_variant_dict_insert (options, "hostname", "s", hostname);
  if (at)
    {
      g_autofree gchar *username = g_strndup (rest, (gsize) (at - rest));
      g_variant_dict_insert (options, "username", "s", username);
    }
  if (colon)
    {
      if (!parse_port (colon + 1, &port, error))
        return FALSE;
      g_variant_dict_insert (options, "port", "u", port);
    }
  return TRUE;
}

/**
 * parse_context_spec:
 * @spec: one hop of a CONTEXT: `local`, `fork`, `sudo:USER`,
 *   `ssh:[USER@]HOST[:PORT]`
 * @transport: (out): the transport's name
 * @options: (out): the transport's options, an `a{sv}` of its stream's
 *   properties (`username`, `hostname`, `port`)
 * @error: return location for a %G_OPTION_ERROR
 *
 * Only the syntax is checked here: whether the transport exists is the
 * registry's to say when it is used, naming the transports it knows.
 */
static gboolean
parse_context_spec (const gchar *spec,
                    gchar **transport,
                    GVariant **options,
                    GError **error)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);
  const gchar *colon = strchr (spec, ':');
  g_autofree gchar *name = colon ? g_strndup (spec, (gsize) (colon - spec))
                                 : g_strdup (spec);
  const gchar *rest = colon ? colon + 1 : NULL;

  if ((g_str_equal (name, "local") || g_str_equal (name, "fork")) && !rest)
    ;
  else if (g_str_equal (name, "sudo") && rest && *rest)
    g_variant_dict_insert (&dict, "username", "s", rest);
  else if (g_str_equal (name, "ssh") && rest)
    {
      if (!parse_ssh_spec (spec, rest, &dict, error))
        return FALSE;
    }
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "Unknown context “%s”; contexts are %s", spec,
                   supported_specs);
      return FALSE;
    }

  *transport = g_steal_pointer (&name);
  *options = g_variant_ref_sink (g_variant_dict_end (&dict));
  return TRUE;
}

/* The options every hop gets from the command line, over its own. */
static GVariant *
add_common_options (GVariant *options,
                    const gchar *transport,
                    gboolean next_is_fork,
                    const gchar *password)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (options);

  /* A fork hop is forked by the hop before it, which needs a fork server
   * started before its threads. */
  if (next_is_fork)
    g_variant_dict_insert (&dict, "fork-server", "b", TRUE);
  if (opt_connect_timeout > 0)
    g_variant_dict_insert (&dict, "connect-timeout", "d", opt_connect_timeout);
  if (opt_debug)
    g_variant_dict_insert (&dict, "debug", "b", TRUE);
  if (password)
    g_variant_dict_insert (&dict, "password", "s", password);
  if (g_str_equal (transport, "ssh"))
    {
      if (opt_host_key_policy)
        g_variant_dict_insert (&dict, "check-host-keys", "s", opt_host_key_policy);
      if (opt_identity_file)
        g_variant_dict_insert (&dict, "identity-file", "s", opt_identity_file);
      if (opt_known_hosts)
        g_variant_dict_insert (&dict, "known-hosts-file", "s", opt_known_hosts);
    }
  return g_variant_dict_end (&dict);
}

/* Passwords */

static gboolean
takes_password (const gchar *transport)
{
  return g_str_equal (transport, "sudo") || g_str_equal (transport, "ssh");
}

static void
password_free (gpointer data)
{
  gchar *password = data;

  if (password)
    {
      explicit_bzero (password, strlen (password));
      g_free (password);
    }
}

/* Reads a line from @fd without its newline, a byte at a time so that
 * nothing after it is consumed. Returns %NULL with no error at the end of
 * the input. */
static gchar *
read_secret_line (int fd,
                  GError **error)
{
  gchar buf[MAX_PASSWORD + 1];
  gchar *line = NULL;
  gsize len = 0;

  for (;;)
    {
      gchar c;
      gssize n = read (fd, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "reading a password from descriptor %d: %s", fd,
                       g_strerror (saved));
          goto out;
        }
      if (n == 0 && len == 0)
        goto out;
      if (n == 0 || c == '\n')
        break;
      if (len == MAX_PASSWORD)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "a password from descriptor %d is longer than %d bytes",
                       fd, MAX_PASSWORD);
          goto out;
        }
      buf[len++] = c;
    }
  line = g_strndup (buf, len);
out:
  explicit_bzero (buf, sizeof buf);
  return line;
}

/* The terminal to restore if a signal ends us while echo is off. */
static int tty_fd = -1;
static struct termios tty_saved;

static void
restore_tty_and_die (int signum)
{
  tcsetattr (tty_fd, TCSANOW, &tty_saved);
  signal (signum, SIG_DFL);
  raise (signum);
}

/* Asks on the controlling terminal, not stdin or stdout, which may be
 * pipes carrying data, and with echo off, so the password is neither
 * shown nor left in a scrollback. */
static gchar *
ask_password (const gchar *prompt,
              GError **error)
{
  static const int fatal[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
  struct sigaction restore = { 0 }, previous[G_N_ELEMENTS (fatal)];
  struct termios quiet;
  g_autoptr(GError) read_error = NULL;
  gchar *password;
  int fd = open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "--ask-password needs a terminal to ask on: /dev/tty: %s",
                   g_strerror (saved));
      return NULL;
    }
  if (tcgetattr (fd, &tty_saved) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "--ask-password cannot turn off echo on /dev/tty: %s",
                   g_strerror (saved));
      close (fd);
      return NULL;
    }
  tty_fd = fd;
  restore.sa_handler = restore_tty_and_die;
  for (guint i = 0; i < G_N_ELEMENTS (fatal); i++)
    sigaction (fatal[i], &restore, &previous[i]);

  quiet = tty_saved;
  quiet.c_lflag &= ~(tcflag_t) (ECHO | ECHOE | ECHOK | ECHONL);
  quiet.c_lflag |= ICANON;
  /* Echo goes off before the prompt shows: whatever is typed once it is
   * there is not echoed. */
  tcsetattr (fd, TCSAFLUSH, &quiet);
  mitogen_write_all (fd, (const guint8 *) prompt, strlen (prompt), -1, NULL);
  password = read_secret_line (fd, &read_error);
  tcsetattr (fd, TCSAFLUSH, &tty_saved);

  for (guint i = 0; i < G_N_ELEMENTS (fatal); i++)
    sigaction (fatal[i], &previous[i], NULL);
  tty_fd = -1;
  /* The newline typed was not echoed either. */
  mitogen_write_all (fd, (const guint8 *) "\n", 1, -1, NULL);
  close (fd);

  if (!password && !read_error)
    g_set_error_literal (&read_error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                         "no password given: the terminal closed");
  if (!password)
    g_propagate_error (error, g_steal_pointer (&read_error));
  return password;
}

/* Reads up to @wanted lines from --password-fd. */
static GPtrArray *
read_password_lines (guint wanted,
                     GError **error)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (password_free);

  while (lines->len < wanted)
    {
      g_autoptr(GError) read_error = NULL;
      gchar *line = read_secret_line (opt_password_fd, &read_error);

      if (read_error)
        {
          g_propagate_error (error, g_steal_pointer (&read_error));
          return NULL;
        }
      if (!line)
        break;
      g_ptr_array_add (lines, line);
    }
  if (lines->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "descriptor %d gave no password", opt_password_fd);
      return NULL;
    }
  if (lines->len != 1 && lines->len < wanted)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "descriptor %d gave %u passwords for %u sudo and ssh hops: "
                   "give one line for each, or one for all", opt_password_fd,
                   lines->len, wanted);
      return NULL;
    }
  return g_steal_pointer (&lines);
}

/* The password of each hop of @spec, in order: %NULL for a hop that takes
 * none or when none was asked for. Gathered before anything starts, so
 * that prompts do not come between a hop's output and the next. */
static GPtrArray *
gather_passwords (const gchar *spec,
                  GError **error)
{
  g_auto(GStrv) hops = g_strsplit (spec, "/", -1);
  g_autoptr(GPtrArray) passwords = g_ptr_array_new_with_free_func (password_free);
  g_autoptr(GPtrArray) lines = NULL;
  g_auto(GStrv) transports = g_new0 (gchar *, g_strv_length (hops) + 1);
  guint wanted = 0, next_line = 0;

  for (guint i = 0; hops[i]; i++)
    {
      g_autoptr(GVariant) options = NULL;

      if (!parse_context_spec (hops[i], &transports[i], &options, error))
        return NULL;
      if (takes_password (transports[i]))
        wanted++;
    }
  if (opt_password_fd >= 0 && wanted > 0)
    {
      lines = read_password_lines (wanted, error);
      if (!lines)
        return NULL;
    }

  for (guint i = 0; hops[i]; i++)
    {
      gchar *password = NULL;

      if (takes_password (transports[i]) && opt_ask_password)
        {
          g_autofree gchar *prompt = g_strdup_printf ("Password for %s: ", hops[i]);

          password = ask_password (prompt, error);
          if (!password)
            return NULL;
        }
      else if (takes_password (transports[i]) && lines)
        {
          password = g_strdup (lines->pdata[lines->len == 1 ? 0 : next_line]);
          next_line++;
        }
      g_ptr_array_add (passwords, password);
    }
  return g_steal_pointer (&passwords);
}

/* Checks the options that need more than GOptionContext's parsing. */
static gboolean
check_options (GError **error)
{
  if (opt_ask_password && opt_password_fd != G_MININT)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                           "--ask-password and --password-fd cannot be given "
                           "together");
      return FALSE;
    }
  if (opt_password_fd != G_MININT &&
      (opt_password_fd < 0 || fcntl (opt_password_fd, F_GETFD) < 0))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--password-fd: %d is not an open descriptor", opt_password_fd);
      return FALSE;
    }
  if (opt_host_key_policy &&
      !g_strv_contains (host_key_policies, opt_host_key_policy))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--host-key-policy is enforce, accept-new or ignore, not "
                   "“%s”", opt_host_key_policy);
      return FALSE;
    }
  return TRUE;
}

/* A session: the broker, router and the contexts of one CONTEXT, the
 * last of which is the one to talk to. */
typedef struct {
  MitogenBroker *broker;
  MitogenRouter *router;
  GPtrArray *contexts;
} Session;

static Session *
session_new (void)
{
  Session *session = g_new0 (Session, 1);

  session->broker = mitogen_broker_new ();
  session->router = mitogen_router_new (session->broker);
  session->contexts = g_ptr_array_new_with_free_func (g_object_unref);
  return session;
}

/* Children are asked to go, innermost first, and waited for, so that
 * their last output and logs arrive before the broker stops. */
static void
session_free (Session *session)
{
  for (guint i = session->contexts->len; i > 0; i--)
    {
      MitogenContext *context = g_ptr_array_index (session->contexts, i - 1);
      g_autoptr(GError) error = NULL;

      if (!mitogen_context_shutdown (context, TRUE, NULL, &error))
        print_error ("shutting down %s: %s",
                     mitogen_context_get_name (context), error->message);
    }
  mitogen_broker_shutdown (session->broker);
  mitogen_broker_join (session->broker);

  g_ptr_array_unref (session->contexts);
  g_object_unref (session->router);
  g_object_unref (session->broker);
  g_free (session);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Session, session_free)

/* Checks every hop before any child starts. */
static gboolean
session_check_spec (const gchar *spec,
                    GError **error)
{
  g_auto(GStrv) hops = g_strsplit (spec, "/", -1);

  for (guint i = 0; hops[i]; i++)
    {
      g_autofree gchar *transport = NULL;
      g_autoptr(GVariant) options = NULL;

      if (!parse_context_spec (hops[i], &transport, &options, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
session_connect (Session *session,
                 const gchar *spec,
                 GPtrArray *passwords,
                 GError **error)
{
  g_auto(GStrv) hops = g_strsplit (spec, "/", -1);

  for (guint i = 0; hops[i]; i++)
    {
      g_autofree gchar *transport = NULL;
      g_autoptr(GVariant) options = NULL;
      MitogenContext *via = i > 0 ? g_ptr_array_index (session->contexts, i - 1)
                                  : NULL;
      MitogenContext *context;

      if (!parse_context_spec (hops[i], &transport, &options, error))
        return FALSE;
      context = mitogen_router_connect_context (
          session->router, transport,
          add_common_options (options, transport,
                              hops[i + 1] && g_str_equal (hops[i + 1], "fork"),
                              passwords->pdata[i]),
          via, NULL, error);
      if (!context)
        return FALSE;
      g_ptr_array_add (session->contexts, context);
    }
  return TRUE;
}

static MitogenContext *
session_get_target (Session *session)
{
  return g_ptr_array_index (session->contexts, session->contexts->len - 1);
}

/* call */

typedef struct {
  gchar *function;
  gchar *args_type;
  gchar *result_type;
  gchar *doc;
} FunctionInfo;

static void
function_info_free (FunctionInfo *info)
{
  g_free (info->function);
  g_free (info->args_type);
  g_free (info->result_type);
  g_free (info->doc);
  g_free (info);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FunctionInfo, function_info_free)

/* The arguments are typed by the context that runs the function, not by
 * anything this program was built with. */
static FunctionInfo *
describe_function (MitogenContext *context,
                   const gchar *function,
                   GError **error)
{
  const gchar *dot = strchr (function, '.');
  g_autofree gchar *module = NULL;
  g_autoptr(GVariant) result = NULL;
  FunctionInfo *info;

  if (!dot || dot == function || !dot[1])
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "“%s” is not of the form MODULE.FUNCTION", function);
      return NULL;
    }
  module = g_strndup (function, (gsize) (dot - function));
  result = mitogen_context_call (context, "agent.describe",
                                 g_variant_new ("(ss)", module, dot + 1),
                                 NULL, error);
  if (!result)
    return NULL;

  info = g_new0 (FunctionInfo, 1);
  info->function = g_strdup (function);
  g_variant_get (result, "(sss)", &info->args_type, &info->result_type,
                 &info->doc);
  return info;
}

/* The types of the ARGs, in order: the items of a tuple, or the one
 * type of a function that takes a single value. */
static GPtrArray *
function_arg_types (const FunctionInfo *info)
{
  const GVariantType *type = G_VARIANT_TYPE (info->args_type);
  GPtrArray *types = g_ptr_array_new ();

  if (!g_variant_type_is_tuple (type))
    g_ptr_array_add (types, (gpointer) type);
  else
    for (const GVariantType *item = g_variant_type_first (type); item;
         item = g_variant_type_next (item))
      g_ptr_array_add (types, (gpointer) item);
  return types;
}

static GVariant *
parse_arg (const GVariantType *hint,
           const gchar *text,
           GError **error)
{
  g_autoptr(GError) parse_error = NULL;
  GVariant *value = g_variant_parse (hint, text, NULL, NULL, &parse_error);
  g_autofree gchar *context = NULL;

  if (value)
    return value;

  /* A bare word is the string it spells: `core.getenv HOME` rather than
   * `core.getenv "'HOME'"`. */
  if ((g_variant_type_equal (hint, G_VARIANT_TYPE_STRING) ||
       g_variant_type_equal (hint, G_VARIANT_TYPE ("ms"))) &&
      g_utf8_validate (text, -1, NULL))
    {
      GVariant *string = g_variant_new_string (text);
      if (g_variant_type_is_maybe (hint))
        string = g_variant_new_maybe (NULL, string);
      return g_variant_ref_sink (string);
    }

  /* A variant takes any value, which need not be boxed by hand:
   * `core.echo 42` as well as `core.echo '<42>'`. */
  if (g_variant_type_equal (hint, G_VARIANT_TYPE_VARIANT))
    {
      g_autoptr(GVariant) inner = g_variant_parse (NULL, text, NULL, NULL, NULL);
      if (inner)
        return g_variant_ref_sink (g_variant_new_variant (inner));
    }

  context = g_strchomp (g_variant_parse_error_print_context (parse_error, text));
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "not a valid %.*s: %s",
               (int) g_variant_type_get_string_length (hint),
               g_variant_type_peek_string (hint), context);
  return NULL;
}

static void
set_usage_error (const FunctionInfo *info,
                 GError **error,
                 const gchar *problem)
{
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "%s\n  %s %s -> %s: %s", problem, info->function,
               info->args_type, info->result_type,
               *info->doc ? info->doc : "(undocumented)");
}

static GVariant *
parse_call_args (const FunctionInfo *info,
                 gchar **args,
                 GError **error)
{
  g_autoptr(GPtrArray) types = function_arg_types (info);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  guint n_args = args ? g_strv_length (args) : 0;

  if (n_args != types->len)
    {
      g_autofree gchar *problem =
        g_strdup_printf ("%s takes %u argument%s, not %u:", info->function,
                         types->len, types->len == 1 ? "" : "s", n_args);
      set_usage_error (info, error, problem);
      return NULL;
    }

  for (guint i = 0; i < n_args; i++)
    {
      g_autoptr(GError) arg_error = NULL;
      GVariant *value = parse_arg (g_ptr_array_index (types, i), args[i],
                                   &arg_error);

      if (!value)
        {
          g_autofree gchar *problem =
            g_strdup_printf ("argument %u of %s is %s", i + 1, info->function,
                             arg_error->message);
          set_usage_error (info, error, problem);
          return NULL;
        }
      g_ptr_array_add (values, value);
    }

  if (!g_variant_type_is_tuple (G_VARIANT_TYPE (info->args_type)))
    return g_variant_ref (g_ptr_array_index (values, 0));
  return g_variant_ref_sink (g_variant_new_tuple ((GVariant **) values->pdata,
                                                  values->len));
}

static gboolean
command_call (MitogenContext *context,
              const gchar *function,
              gchar **args,
              GError **error)
{
  g_autoptr(FunctionInfo) info = describe_function (context, function, error);
  g_autoptr(GVariant) call_args = NULL;
  g_autoptr(GVariant) result = NULL;
  g_autofree gchar *text = NULL;

  if (!info)
    return FALSE;
  call_args = parse_call_args (info, args, error);
  if (!call_args)
    return FALSE;
  /* Not floating: the call takes a reference of its own. */
  result = mitogen_context_call (context, function, call_args, NULL, error);
  if (!result)
    return FALSE;

  text = g_variant_print (result, FALSE);
  printf ("%s\n", text);
  return fflush (stdout) == 0;
}

/* run */

typedef struct {
  MitogenContext *context;
  GError *error; /* the first write error; set on the broker thread */
} RunOutput;

/* On the broker thread, in the order the output was read. A blocking
 * write holds up the broker, which is the back pressure wanted when our
 * reader is slower than the command. */
static void
on_run_output (GVariant *progress,
               gpointer user_data)
{
  RunOutput *output = user_data;
  g_autoptr(GVariant) chunk = NULL;
  const guint8 *data;
  gsize len;
  gint fd;

  if (output->error || !g_variant_is_of_type (progress, G_VARIANT_TYPE ("(iay)")))
    return;
  g_variant_get (progress, "(i@ay)", &fd, &chunk);
  data = g_variant_get_fixed_array (chunk, &len, 1);
  if (mitogen_write_all (fd == 2 ? STDERR_FILENO : STDOUT_FILENO, data, len,
                         -1, &output->error))
    return;

  /* Nobody wants the rest (`mitogen run ... | head`): the context cancels
   * the call as it shuts down, which kills the command, and the reply
   * still comes. Cancelling our wait instead would return while progress
   * may still be delivered to @output, on our stack. */
  mitogen_context_shutdown (output->context, FALSE, NULL, NULL);
}

/* Like a program killed by SIGPIPE (which the broker ignores), a reader
 * that went away is no error worth a message. */
static gboolean
finish_run_output (GError *write_error, /* (transfer full) */
                   int *status,
                   GError **error)
{
  if (g_error_matches (write_error, MITOGEN_STREAM_ERROR,
                       MITOGEN_STREAM_ERROR_DISCONNECTED))
    {
      g_error_free (write_error);
      *status = 128 + SIGPIPE;
      return TRUE;
    }
  g_propagate_prefixed_error (error, write_error,
                              "writing the command's output: ");
  return FALSE;
}

static gboolean
command_run (MitogenContext *context,
             gchar **argv,
             int *status,
             GError **error)
{
  RunOutput output = { context, NULL };
  g_autoptr(GError) call_error = NULL;
  g_autoptr(GVariant) result = NULL;
  GVariant *args;

  args = g_variant_new ("(^asm@aym@s@a{ss})", argv, NULL, NULL,
                        g_variant_new_array (G_VARIANT_TYPE ("{ss}"), NULL, 0));
  result = mitogen_context_call_with_progress (context, "core.run", args,
                                               on_run_output, &output,
                                               NULL, &call_error);
  /* All progress came before the reply: @output is ours again. */
  if (output.error)
    return finish_run_output (g_steal_pointer (&output.error), status, error);
  if (!result)
    {
      g_propagate_error (error, g_steal_pointer (&call_error));
      return FALSE;
    }
  g_variant_get (result, "(i@ay@ay)", status, NULL, NULL);
  *status = CLAMP (*status, 0, 255);
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
      printf ("%s\t%s\n", names[i], mitogen_transport_module_get_path (module));
    }
  if (!names[0])
    print_error ("no transports found; set MITOGEN_TRANSPORT_PATH to the "
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

static gboolean
parse_command_line (GOptionContext *options,
                    int argc,
                    char **argv,
                    GStrv *words,
                    GError **error)
{
  g_auto(GStrv) ours = NULL;
  g_auto(GStrv) verbatim = NULL;

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
  if (!g_option_context_parse_strv (options, &ours, error))
    return FALSE;
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

static gboolean
is_module_file (const gchar *word)
{
  return strchr (word, '/') != NULL || g_str_has_suffix (word, ".so");
}

/* Runs call or run in the context named by words[1]; sets @status to
 * the exit status on success. */
static gboolean
run_in_context (GStrv words,
                int *status,
                GError **error)
{
  const gchar *command = words[0];
  const gchar *spec = words[1];
  g_autoptr(GPtrArray) passwords = NULL;
  g_autoptr(Session) session = NULL;

  if (g_str_equal (command, "call") &&
      !want_words (words, 3, "mitogen call CONTEXT MODULE.FUNCTION [ARG...]", error))
    return FALSE;
  if (g_str_equal (command, "run") &&
      !want_words (words, 3, "mitogen run CONTEXT -- COMMAND [ARG...]", error))
    return FALSE;
  if (!session_check_spec (spec, error))
    return FALSE;
  passwords = gather_passwords (spec, error);
  if (!passwords)
    return FALSE;

  session = session_new ();
  if (!session_connect (session, spec, passwords, error))
    return FALSE;
  /* Held no longer than needed. */
  g_clear_pointer (&passwords, g_ptr_array_unref);

  *status = EXIT_OK;
  if (g_str_equal (command, "call") && is_module_file (words[2]))
    {
      /* mitogen call CONTEXT ./mymod.so mymod.fn [ARG…]: the module is
       * served from that file, on no path. */
      if (!want_words (words, 4, "mitogen call CONTEXT FILE.so MODULE.FUNCTION [ARG...]",
                       error) ||
          !mitogen_module_responder_register_file (
            mitogen_module_responder_get_for_router (session->router), words[2],
            NULL, error))
        return FALSE;
      return command_call (session_get_target (session), words[3], words + 4, error);
    }
  if (g_str_equal (command, "call"))
    return command_call (session_get_target (session), words[2], words + 3, error);
  return command_run (session_get_target (session), words + 2, status, error);
}

static gboolean
run_command (GStrv words,
             int *status,
             GError **error)
{
  const gchar *command = words[0];

  *status = EXIT_OK;
  if (!command)
    {
      g_set_error_literal (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                           "no command given; see mitogen --help");
      return FALSE;
    }
  if (g_str_equal (command, "transports"))
    return command_transports (error);
  if (g_str_equal (command, "call") || g_str_equal (command, "run"))
    return run_in_context (words, status, error);

  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
               "unknown command “%s”; commands are call, run and transports",
               command);
  return FALSE;
}

int
main (int argc,
      char **argv)
{
  g_autoptr(GOptionContext) options = g_option_context_new ("COMMAND [ARGS...]");
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) words = NULL;
  int status = EXIT_FAILED;

  setlocale (LC_ALL, "");

  g_option_context_set_summary (options, summary);
  g_option_context_set_description (options, description);
  g_option_context_add_main_entries (options, option_entries, NULL);

  if (!parse_command_line (options, argc, argv, &words, &error) ||
      !check_options (&error))
    {
      print_error ("%s", error->message);
      return EXIT_USAGE;
    }
  /* Debug records are forwarded to be seen. */
  opt_verbose = opt_verbose || opt_debug;

  /* A first hop of `fork` is forked from a fork server, which must start
   * now, while this process has one thread. */
  if (words[0] && words[1] && (g_str_equal (words[1], "fork") ||
                               g_str_has_prefix (words[1], "fork/")) &&
      !mitogen_fork_server_start (&error))
    {
      print_error ("%s", error->message);
      return EXIT_FAILED;
    }
  /* After the fork server: its children set their own writer, which GLib
   * allows once per process. */
  g_log_set_writer_func (write_log, NULL, NULL);

  if (!run_command (words, &status, &error))
    {
      print_error ("%s", error->message);
      return error->domain == G_OPTION_ERROR ? EXIT_USAGE : EXIT_FAILED;
    }
  return status;
}
