/* mitogen-agent-bundle.c
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include "config.h"

#include "mitogen-agent-bundle.h"

#include <link.h>
#include <string.h>
#include <sys/utsname.h>

#include "mitogen-errors.h"
#include "mitogen-parent-stream.h"

/**
 * MitogenAgentBundle:
 *
 * Everything a host with nothing but `/bin/sh` and the C library needs to
 * run an agent: the agent, the libraries it links that are not part of
 * the C library, and `mitogen-bootstrap`, which stores them.
 *
 * Starting an agent from a bundle takes three stages. The first is a short
 * `sh` script (mitogen_agent_bundle_get_first_stage()) run as the
 * transport's command: if a copy of this very bundle is cached under
 * `~/.cache/mitogen/HASH` it runs it at once and says `MITO000 cached`.
 * Otherwise it finds a writable scratch directory and says `MITO000
 * upload`; the parent then sends one line of `printf`
 * (mitogen_agent_bundle_get_loader_script()) that writes the loader there,
 * followed by the archive (mitogen_agent_bundle_get_archive()). The loader,
 * run through the dynamic loader since a file the shell writes is not
 * executable, stores the archive in the cache (or, where the home
 * directory is read-only, in a temporary directory the agent removes when
 * it exits) and runs the agent with `--library-path` pointing there, so the
 * shipped libraries never leak to the agent's own children through the
 * environment.
 *
 * An agent started this way knows its bundle's directory
 * (mitogen_agent_bundle_set_default_directory()) and ships the same bundle
 * to children of its own, so chains of hops need nothing installed either.
 *
 * The bundle is for the parent's architecture and C library; a far side
 * without the same dynamic loader gets a clear error before anything is
 * uploaded.
 */
struct _MitogenAgentBundle
{
  GObject parent_instance;

  GBytes *archive;
  GBytes *loader;
  gchar *hash;
  gchar *interpreter;
};

G_DEFINE_FINAL_TYPE (MitogenAgentBundle, mitogen_agent_bundle, G_TYPE_OBJECT)

#define ARCHIVE_MAGIC "MITOBND1"
#define AGENT_NAME "mitogen-agent"
#define LOADER_NAME "mitogen-bootstrap"

G_LOCK_DEFINE_STATIC (default_bundle);
static MitogenAgentBundle *default_bundle;
static gchar *default_directory;

static void
mitogen_agent_bundle_finalize (GObject *object)
{
  MitogenAgentBundle *self = MITOGEN_AGENT_BUNDLE (object);

  g_clear_pointer (&self->archive, g_bytes_unref);
  g_clear_pointer (&self->loader, g_bytes_unref);
  g_free (self->hash);
  g_free (self->interpreter);
  G_OBJECT_CLASS (mitogen_agent_bundle_parent_class)->finalize (object);
}

static void
mitogen_agent_bundle_class_init (MitogenAgentBundleClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = mitogen_agent_bundle_finalize;
}

static void
mitogen_agent_bundle_init (MitogenAgentBundle *self)
{
}

static const gchar *
this_machine (void)
{
  static struct utsname uts;
  static gsize done;

  if (g_once_init_enter (&done))
    {
      if (uname (&uts) < 0)
        strcpy (uts.machine, "unknown");
      g_once_init_leave (&done, 1);
    }
  return uts.machine;
}

/* The program interpreter (`PT_INTERP`) an ELF executable of this
 * machine names: the dynamic loader the far side must have. */
static gchar *
read_interpreter (const guint8 *data, gsize len, GError **error)
{
  const ElfW (Ehdr) *eh = (const ElfW (Ehdr) *) data;

  if (len < sizeof *eh || memcmp (eh->e_ident, ELFMAG, SELFMAG) != 0
      || eh->e_ident[EI_CLASS]
             != (sizeof (void *) == 8 ? ELFCLASS64 : ELFCLASS32)
      || eh->e_phentsize != sizeof (ElfW (Phdr)) || eh->e_phoff > len
      || (gsize) eh->e_phnum * sizeof (ElfW (Phdr)) > len - eh->e_phoff)
    goto bad;
  for (guint i = 0; i < eh->e_phnum; i++)
    {
      const ElfW (Phdr) *ph = (const ElfW (Phdr) *) (data + eh->e_phoff) + i;

      if (ph->p_type != PT_INTERP)
        continue;
      if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset
          || ph->p_filesz < 2 || data[ph->p_offset + ph->p_filesz - 1] != '\0')
        goto bad;
      return g_strdup ((const gchar *) data + ph->p_offset);
    }
bad:
  g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
               "The agent is not a dynamically linked program of this machine "
               "(%s)",
               this_machine ());
  return NULL;
}

static gboolean
is_c_library (const gchar *name)
{
  /* Tied to the far side's own C library, which every host has. */
  static const gchar *const prefixes[] = {
    "libc.so",  "libm.so",      "libmvec.so", "libpthread.so", "libdl.so",
    "librt.so", "libresolv.so", "libutil.so", "libanl.so",     "libnsl.so",
    "ld-linux", "ld64.so",      "linux-vdso", "linux-gate",    NULL,
  };

  for (guint i = 0; prefixes[i]; i++)
    if (g_str_has_prefix (name, prefixes[i]))
      return TRUE;
  return FALSE;
}

static void
append_be (GByteArray *out, guint64 value, guint bytes)
{
  guint8 buf[8];

  for (guint i = 0; i < bytes; i++)
    buf[i] = (guint8) (value >> (8 * (bytes - 1 - i)));
  g_byte_array_append (out, buf, bytes);
}

static void
append_file (GByteArray *out, const gchar *name, GBytes *data)
{
  gsize len;
  const guint8 *bytes = g_bytes_get_data (data, &len);

  append_be (out, strlen (name), 4);
  append_be (out, 0755, 4);
  append_be (out, len, 8);
  g_byte_array_append (out, (const guint8 *) name, (guint) strlen (name));
  g_byte_array_append (out, bytes, (guint) len);
}

static GBytes *
read_bytes (const gchar *path, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GMappedFile) file = g_mapped_file_new (path, FALSE, &local_error);

  if (!file)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "Could not read %s to upload it: %s", path,
                   local_error->message);
      return NULL;
    }
  return g_mapped_file_get_bytes (file);
}

/* g_qsort_with_data() passes pointers to the array's elements, so a
 * bare g_strcmp0 would order the names by their addresses, which differ
 * from run to run, and so would the hash. */
static gint
compare_names (gconstpointer a, gconstpointer b, gpointer user_data)
{
  return g_strcmp0 (*(const gchar *const *) a, *(const gchar *const *) b);
}

/* @files maps names to paths; the agent and loader come first, then the
 * libraries by name, so the same content always has the same hash. */
static MitogenAgentBundle *
bundle_new (GHashTable *files, GError **error)
{
  g_autoptr (MitogenAgentBundle) self
      = g_object_new (MITOGEN_TYPE_AGENT_BUNDLE, NULL);
  g_autoptr (GByteArray) body = g_byte_array_new ();
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree const gchar **names = NULL;
  guint n_names;

  names = (const gchar **) g_hash_table_get_keys_as_array (files, &n_names);
  g_qsort_with_data (names, (gint) n_names, sizeof (gchar *),
                     compare_names, NULL);
  for (gint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < n_names; i++)
      {
        gboolean program = g_str_equal (names[i], AGENT_NAME)
                           || g_str_equal (names[i], LOADER_NAME);
        g_autoptr (GBytes) data = NULL;

        /* Programs first, then libraries. */
        if (program != (pass == 0))
          continue;
        data = read_bytes (g_hash_table_lookup (files, names[i]), error);
        if (!data)
          return NULL;
        if (g_str_equal (names[i], LOADER_NAME))
          self->loader = g_bytes_ref (data);
        if (g_str_equal (names[i], AGENT_NAME))
          {
            self->interpreter = read_interpreter (
                g_bytes_get_data (data, NULL), g_bytes_get_size (data), error);
            if (!self->interpreter)
              return NULL;
          }
        append_file (body, names[i], data);
      }
  if (!self->interpreter || !self->loader)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "An agent bundle needs both %s and %s", AGENT_NAME,
                   LOADER_NAME);
      return NULL;
    }

  g_byte_array_append (out, (const guint8 *) ARCHIVE_MAGIC,
                       strlen (ARCHIVE_MAGIC));
  append_be (out, body->len, 8);
  g_byte_array_append (out, body->data, body->len);
  self->archive = g_byte_array_free_to_bytes (g_steal_pointer (&out));
  self->hash = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, self->archive);
  return g_steal_pointer (&self);
}

/* The libraries @agent_path needs that are not the C library's, as the
 * dynamic loader itself resolves them. */
static gboolean
add_libraries (GHashTable *files, const gchar *agent_path, GError **error)
{
  const gchar *argv[] = { agent_path, NULL };
  const gchar *library_path = g_getenv ("LD_LIBRARY_PATH");
  g_autofree gchar *library_path_var
      = library_path ? g_strconcat ("LD_LIBRARY_PATH=", library_path, NULL)
                     : NULL;
  /* The loader resolves as the agent would run here: by its RUNPATH (an
   * installed agent's, see meson's install_rpath) and by LD_LIBRARY_PATH
   * where this process has one; nothing else of the environment. */
  const gchar *envp[] = { "LD_TRACE_LOADED_OBJECTS=1", library_path_var, NULL };
  g_autofree gchar *out = NULL;
  g_auto (GStrv) lines = NULL;
  gint status;

  g_autoptr (GError) local_error = NULL;

  if (!g_spawn_sync (NULL, (gchar **) argv, (gchar **) envp,
                     G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                     &status, &local_error)
      || !g_spawn_check_wait_status (status, &local_error))
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "Could not list the libraries of the agent %s to upload "
                   "them: %s",
                   agent_path, local_error->message);
      return FALSE;
    }
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_auto (GStrv) words = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);

      /* "libfoo.so.1 => /path/libfoo.so.1 (0x…)"; the loader and vDSO
       * lines have no arrow. */
      if (g_strv_length (words) < 3 || !g_str_equal (words[1], "=>"))
        continue;
      if (is_c_library (words[0]))
        continue;
      if (words[2][0] != '/')
        {
          g_set_error (error, MITOGEN_STREAM_ERROR,
                       MITOGEN_STREAM_ERROR_CONNECT,
                       "The agent %s needs %s, which is not found here",
                       agent_path, words[0]);
          return FALSE;
        }
      g_hash_table_insert (files, g_strdup (words[0]), g_strdup (words[2]));
    }
  return TRUE;
}

/**
 * mitogen_agent_bundle_new_for_agent:
 * @agent_path: an agent program, such as mitogen_parent_stream_get_agent_path()
 * @loader_path: the `mitogen-bootstrap` program
 * @error: return location for an error
 *
 * Bundles @agent_path with the libraries it links, as the dynamic loader
 * finds them here, leaving out the C library's own.
 *
 * Returns: (transfer full): a bundle, or %NULL with @error set
 */
MitogenAgentBundle *
mitogen_agent_bundle_new_for_agent (const gchar *agent_path,
                                    const gchar *loader_path,
                                    GError **error)
{
  g_autoptr (GHashTable) files
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_return_val_if_fail (agent_path != NULL, NULL);
  g_return_val_if_fail (loader_path != NULL, NULL);

  g_hash_table_insert (files, g_strdup (AGENT_NAME), g_strdup (agent_path));
  g_hash_table_insert (files, g_strdup (LOADER_NAME), g_strdup (loader_path));
  if (!add_libraries (files, agent_path, error))
    return NULL;
  return bundle_new (files, error);
}

/**
 * mitogen_agent_bundle_new_from_directory:
 * @directory: a directory the loader stored a bundle in
 * @error: return location for an error
 *
 * Reads back the bundle the loader stored in @directory, to ship to children
 * of this context.
 *
 * Returns: (transfer full): the bundle stored in @directory, or %NULL
 *   with @error set
 */
MitogenAgentBundle *
mitogen_agent_bundle_new_from_directory (const gchar *directory, GError **error)
{
  g_autoptr (GHashTable) files
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GError) local_error = NULL;
  const gchar *name;

  dir = g_dir_open (directory, 0, &local_error);
  if (!dir)
    {
      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "The agent's bundle is gone: %s", local_error->message);
      return NULL;
    }
  while ((name = g_dir_read_name (dir)))
    g_hash_table_insert (files, g_strdup (name),
                         g_build_filename (directory, name, NULL));
  return bundle_new (files, error);
}

static gchar *
get_loader_path (void)
{
  const gchar *env = g_getenv ("MITOGEN_BOOTSTRAP");

  if (env && *env)
    return g_strdup (env);
  return g_build_filename (MITOGEN_LIBEXECDIR, LOADER_NAME, NULL);
}

/**
 * mitogen_agent_bundle_set_default_directory:
 * @directory: (nullable): where this process's own bundle is stored
 *
 * Called by an agent started from a bundle, so that the bundle it ships
 * to its own children is the one it runs from.
 */
void
mitogen_agent_bundle_set_default_directory (const gchar *directory)
{
  G_LOCK (default_bundle);
  g_free (default_directory);
  default_directory = g_strdup (directory);
  g_clear_object (&default_bundle);
  G_UNLOCK (default_bundle);
}

/**
 * mitogen_agent_bundle_get_default_directory:
 *
 * Returns where this process's own bundle is stored, if it was started from
 * one.
 *
 * Returns: (nullable): where this process's own bundle is stored, if it
 *   was started from one
 */
const gchar *
mitogen_agent_bundle_get_default_directory (void)
{
  const gchar *dir;

  G_LOCK (default_bundle);
  dir = default_directory;
  G_UNLOCK (default_bundle);
  return dir;
}

/**
 * mitogen_agent_bundle_get_default:
 * @error: return location for an error
 *
 * The bundle this process ships to far sides: its own, if it was started
 * from one, otherwise the agent of mitogen_parent_stream_get_agent_path()
 * with `mitogen-bootstrap` (`MITOGEN_BOOTSTRAP` if set). Built once.
 *
 * Returns: (transfer full): the bundle, or %NULL with @error set
 */
MitogenAgentBundle *
mitogen_agent_bundle_get_default (GError **error)
{
  MitogenAgentBundle *bundle;

  G_LOCK (default_bundle);
  if (!default_bundle)
    {
      if (default_directory)
        default_bundle = mitogen_agent_bundle_new_from_directory (
            default_directory, error);
      else
        {
          g_autofree gchar *agent = mitogen_parent_stream_get_agent_path ();
          g_autofree gchar *loader = get_loader_path ();

          default_bundle
              = mitogen_agent_bundle_new_for_agent (agent, loader, error);
        }
    }
  bundle = default_bundle ? g_object_ref (default_bundle) : NULL;
  G_UNLOCK (default_bundle);
  return bundle;
}

/**
 * mitogen_agent_bundle_get_hash:
 * @self: a bundle
 *
 * Returns the SHA-256 of the archive, in hex: the name of its cache directory
 * on far sides.
 *
 * Returns: the SHA-256 of the archive, in hex: the name of its cache
 *   directory on far sides
 */
const gchar *
mitogen_agent_bundle_get_hash (MitogenAgentBundle *self)
{
  g_return_val_if_fail (MITOGEN_IS_AGENT_BUNDLE (self), NULL);
  return self->hash;
}

/**
 * mitogen_agent_bundle_get_interpreter:
 * @self: a bundle
 *
 * Returns the dynamic loader the agent names, such as
 * `/lib64/ld-linux-x86-64.so.2`.
 *
 * Returns: the dynamic loader the agent names, such as
 *   `/lib64/ld-linux-x86-64.so.2`
 */
const gchar *
mitogen_agent_bundle_get_interpreter (MitogenAgentBundle *self)
{
  g_return_val_if_fail (MITOGEN_IS_AGENT_BUNDLE (self), NULL);
  return self->interpreter;
}

/**
 * mitogen_agent_bundle_get_archive:
 * @self: a bundle
 *
 * Returns the archive mitogen-bootstrap unpacks on the far side.
 *
 * Returns: (transfer none): the archive the loader reads: a magic, the
 *   length of the rest, then per file its name length, mode, size, name
 *   and contents, all numbers big-endian
 */
GBytes *
mitogen_agent_bundle_get_archive (MitogenAgentBundle *self)
{
  g_return_val_if_fail (MITOGEN_IS_AGENT_BUNDLE (self), NULL);
  return self->archive;
}

/**
 * mitogen_agent_bundle_get_first_stage:
 * @self: a bundle
 *
 * The `sh` script a transport runs on the far side instead of the agent.
 * It needs only the shell's builtins.
 *
 * Returns: (transfer full): the script
 */
gchar *
mitogen_agent_bundle_get_first_stage (MitogenAgentBundle *self)
{
  g_autofree gchar *interp = NULL;

  g_return_val_if_fail (MITOGEN_IS_AGENT_BUNDLE (self), NULL);

  interp = g_shell_quote (self->interpreter);
  /* printf '' (not `:`) tests a directory: a failed redirection ends the
   * shell for special builtins only. `2>&-` keeps a shell's complaint
   * about an unwritable place out of the output.
   *
   * Whoever shares our stdin may have made it O_NONBLOCK, and `read`
   * takes EAGAIN for failure. A pipe or terminal is opened afresh
   * (/dev/stdin), a new open file with flags of its own, blocking; a
   * socket cannot be, so `read` is retried, keeping what each attempt got,
   * a bounded number of times (the loader line follows `upload` at once;
   * the bound ends the loop if the parent is gone). */
  return g_strdup_printf (
      "H=%s L=%s\n"
      "D=\"${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/mitogen/$H\"\n"
      "if test -r \"$D/" AGENT_NAME "\"; then echo 'MITO000 cached'; "
      "exec \"$L\" --library-path \"$D\" \"$D/" AGENT_NAME
      "\" \"--bundle=$D\"; fi\n"
      "if ! test -r \"$L\"; then echo \"MITO000 noloader $(uname -m 2>&-)\"; "
      "exit 1; fi\n"
      "F=\n"
      "for T in \"${TMPDIR:-/tmp}\" /dev/shm /var/tmp "
      "\"${HOME:-/nonexistent}\"; do "
      "if printf '' 2>&- >\"$T/.mitogen-$$\"; then F=\"$T/.mitogen-$$\"; "
      "break; fi; done\n"
      "if test -z \"$F\"; then echo 'MITO000 nowrite'; exit 1; fi\n"
      "echo 'MITO000 upload'\n"
      "if (: </dev/stdin) 2>&-; then exec </dev/stdin; fi\n"
      "S= N=0\n"
      "until IFS= read -r T; do S=\"$S$T\"; N=$((N+1)); "
      "test $N -lt 1000000 || exit 1; done\n"
      "S=\"$S$T\"\n"
      "eval \"$S\" || exit 1\n"
      "exec \"$L\" \"$F\" \"$F\" \"$D\" \"$L\"\n",
      self->hash, interp);
}

/**
 * mitogen_agent_bundle_get_loader_script:
 * @self: a bundle
 *
 * The line the first stage reads and evaluates after `MITO000 upload`:
 * one `printf` writing `mitogen-bootstrap` to the scratch file `$F`, with
 * every byte a shell might treat specially written as an octal escape.
 *
 * Returns: (transfer full): the line, newline included
 */
GBytes *
mitogen_agent_bundle_get_loader_script (MitogenAgentBundle *self)
{
  GString *line;
  const guint8 *data;
  gsize len;

  g_return_val_if_fail (MITOGEN_IS_AGENT_BUNDLE (self), NULL);

  data = g_bytes_get_data (self->loader, &len);
  line = g_string_sized_new (len * 3 + 32);
  g_string_append (line, "printf '");
  for (gsize i = 0; i < len; i++)
    {
      guint8 c = data[i];

      if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\' && c != '%')
        g_string_append_c (line, (gchar) c);
      else
        g_string_append_printf (line, "\\%03o", c);
    }
  g_string_append (line, "' >\"$F\"\n");
  return g_string_free_to_bytes (line);
}

/**
 * mitogen_agent_bundle_check_status:
 * @self: a bundle
 * @status: a status line from the far side, without its
 *   %MITOGEN_BOOT_MARKER_STATUS and newline
 * @error: return location for an error
 *
 * Turns the far side's reasons for not starting the agent into errors.
 *
 * Returns: %TRUE for `cached` and `upload`; otherwise %FALSE with
 *   %MITOGEN_STREAM_ERROR_CONNECT saying why and what to do
 */
gboolean
mitogen_agent_bundle_check_status (MitogenAgentBundle *self,
                                   const gchar *status,
                                   GError **error)
{
  if (g_str_equal (status, "cached") || g_str_equal (status, "upload"))
    return TRUE;
  if (g_str_has_prefix (status, "noloader"))
    {
      g_autofree gchar *machine
          = g_strstrip (g_strdup (status + strlen ("noloader")));

      g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                   "The far side cannot run this %s agent: it has no %s, so it "
                   "is another architecture or not a GNU libc system%s%s%s",
                   this_machine (), self->interpreter,
                   *machine ? " (its uname -m says " : "", machine, *machine ? ")" : "");
    }
  else if (g_str_equal (status, "nowrite"))
    g_set_error_literal (
        error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
        "The far side has no writable directory for the agent's "
        "loader: none of $TMPDIR, /tmp, /dev/shm, /var/tmp or the "
        "home directory can be written");
  else if (g_str_has_prefix (status, "error: "))
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "The far side could not start the agent: %s",
                 status + strlen ("error: "));
  else
    g_set_error (error, MITOGEN_STREAM_ERROR, MITOGEN_STREAM_ERROR_CONNECT,
                 "The far side said something unexpected while starting: %s",
                 status);
  return FALSE;
}
