/* test-minimize-source.c: tests for mitogen_minimize_source()
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include <mitogen/mitogen-minimize-source.h>

/* Enough of the stdlib to cover every kind of module while keeping the test
 * quick; MITOGEN_TEST_MINIMIZE_MAX_FILES=0 checks them all. */
#define DEFAULT_MAX_STDLIB_FILES 400
#define QUICK_MAX_STDLIB_FILES 40

static gboolean
test_quick (void)
{
  return g_strcmp0 (g_getenv ("MITOGEN_TEST_QUICK"), "1") == 0;
}

typedef struct {
  const gchar *path;
  const gchar *input;
  const gchar *expected; /* NULL: the input comes back unchanged */
} MinimizeCase;

static const MinimizeCase cases[] = {
  { "/minimize-source/empty", "", "" },
  { "/minimize-source/comment/removed",
    "x = 1  # set x\n# a whole line\ny = 2\n",
    "x = 1\n\ny = 2\n" },
  { "/minimize-source/comment/indented",
    "if x:\n    # why\n    y = 2  # because\n",
    "if x:\n\n    y = 2\n" },
  { "/minimize-source/comment/shebang-and-cookie-kept",
    "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n# other\nx = 1\n",
    "#!/usr/bin/env python3\n# -*- coding: utf-8 -*-\n\nx = 1\n" },
  { "/minimize-source/comment/only-leading-cookie-kept",
    "x = 1  # coding: utf-8\n# plain\n#!not a shebang\n",
    "x = 1\n\n\n" },
  { "/minimize-source/comment/hash-in-strings",
    "s = \"# not a comment\"  # comment\nt = '#' + \"\"\"#\n#\"\"\"  # c\n",
    "s = \"# not a comment\"\nt = '#' + \"\"\"#\n#\"\"\"\n" },
  { "/minimize-source/comment/no-final-line-end",
    "x = 1  # c",
    "x = 1" },
  { "/minimize-source/comment/crlf",
    "x = 1  # c\r\n# d\r\ny = 2\r\n",
    "x = 1\r\n\r\ny = 2\r\n" },
  { "/minimize-source/comment/lone-cr",
    "x = 1  # c\ry = 2\r",
    "x = 1\ry = 2\r" },
  { "/minimize-source/comment/lone-cr-then-lf",
    "x = 1\r# c\ny = 2\r  \n",
    "x = 1\r \ny = 2\r \n" },
  { "/minimize-source/docstring/module",
    "\"\"\"Module.\n\nMore.\n\"\"\"\nimport os\n",
    "\n\n\n\nimport os\n" },
  { "/minimize-source/docstring/module-after-comments",
    "#!/usr/bin/python\n# hello\n\n'''Doc.'''\nfrom __future__ import annotations\n",
    "#!/usr/bin/python\n\n\n\nfrom __future__ import annotations\n" },
  { "/minimize-source/docstring/module-only",
    "'''Nothing else.'''\n",
    "\n" },
  { "/minimize-source/docstring/class",
    "class A(B):\n    \"\"\"Doc.\"\"\"\n    x = 1\n",
    "class A(B):\n\n    x = 1\n" },
  { "/minimize-source/docstring/def",
    "def f(a,\n      b):  # c\n    '''Doc\n    more.\n    '''\n    return a\n",
    "def f(a,\n      b):\n\n\n\n    return a\n" },
  { "/minimize-source/docstring/async-def",
    "async def f():\n    \"\"\"Doc.\"\"\"\n    await g()\n",
    "async def f():\n\n    await g()\n" },
  { "/minimize-source/docstring/decorated",
    "@dec(1)  # c\ndef f():\n    \"\"\"Doc.\"\"\"\n    return 1\n",
    "@dec(1)\ndef f():\n\n    return 1\n" },
  { "/minimize-source/docstring/prefixes",
    "def f():\n    r\"\"\"raw \\d\"\"\" # c\n"
    "    return Rb'x' + bR\"y\" + fR\"{z}\" + Rf'{z}' + U\"u\" + br'' + rB\"\"\n",
    "def f():\n\n"
    "    return Rb'x' + bR\"y\" + fR\"{z}\" + Rf'{z}' + U\"u\" + br'' + rB\"\"\n" },
  { "/minimize-source/docstring/implicit-concatenation",
    "def f():\n    \"a\" \\\n    'b'\n    return 1\n",
    "def f():\n\n\n    return 1\n" },
  { "/minimize-source/docstring/nested",
    "class A:\n    '''A.'''\n    def f(self):\n        '''F.'''\n        return 1\n",
    "class A:\n\n    def f(self):\n\n        return 1\n" },
  { "/minimize-source/pass/def",
    "def f():\n    \"\"\"Doc.\n    more\n    \"\"\"\n",
    "def f():\n    pass\n\n\n" },
  { "/minimize-source/pass/class-then-code",
    "class A:\n    'Doc string'\n    # trailing comment\nx = 1\n",
    "class A:\n    pass\n\nx = 1\n" },
  { "/minimize-source/pass/tab-indent",
    "if x:\n\tclass A:\n\t\t\"\"\"Doc.\"\"\"\n\telse_ = 1\n",
    "if x:\n\tclass A:\n\t\tpass\n\telse_ = 1\n" },
  { "/minimize-source/pass/nested-block-ends",
    "if x:\n    def f():\n        'Doc.'\nelse:\n    y = 1\n",
    "if x:\n    def f():\n        pass\nelse:\n    y = 1\n" },
  { "/minimize-source/pass/after-comment-lines",
    "def f():\n    # c\n\n    \"\"\"Doc.\"\"\"  # d\n",
    "def f():\n\n\n    pass\n" },
  { "/minimize-source/pass/one-line-suite",
    "def f(): \"Docstring.\"  # c\nclass A(B): 'Doc.'\n",
    "def f(): pass\nclass A(B): pass\n" },
  { "/minimize-source/kept/tiny-docstring",
    "def f():\n    ''\n",
    NULL },
  { "/minimize-source/kept/assigned-string",
    "x = \"\"\"a\"\"\"\n",
    NULL },
  { "/minimize-source/kept/second-statement",
    "def f():\n    x = 1\n    \"\"\"Not a docstring.\"\"\"\n    return x\n",
    NULL },
  { "/minimize-source/kept/module-second-statement",
    "import os\n'not a docstring'\n",
    NULL },
  { "/minimize-source/kept/if-block",
    "if x:\n    'not a docstring'\n",
    NULL },
  { "/minimize-source/kept/followed-by-semicolon",
    "def f():\n    'Doc.'; return 1\n",
    NULL },
  { "/minimize-source/kept/string-expression",
    "def f():\n    'a %s' % x\n    'b'.join(y)\n",
    NULL },
  { "/minimize-source/kept/async-with",
    "async def f():\n    async with x:\n        'not a docstring'\n",
    NULL },
  { "/minimize-source/fstring/not-a-docstring",
    "def f():\n    f\"not a {docstring}\"\n",
    NULL },
  { "/minimize-source/fstring/braces-and-hashes",
    "s = f\"{x!r:>{width}} {{#}} {d['k']:#x}\"  # c\n"
    "t = f'''{\n    y}'''  # d\n",
    "s = f\"{x!r:>{width}} {{#}} {d['k']:#x}\"\n"
    "t = f'''{\n    y}'''\n" },
  /* Python 3.12 lets a replacement field reuse the enclosing quote and hold
   * comments; all that is in it belongs to the string. */
  { "/minimize-source/fstring/python-3.12",
    "s = f\"{d[\"#\"] + f'{e[\"#\"]}'}\"  # c\n"
    "t = f'''{\n    y  # not a comment of the file\n}'''\n",
    "s = f\"{d[\"#\"] + f'{e[\"#\"]}'}\"\n"
    "t = f'''{\n    y  # not a comment of the file\n}'''\n" },
  { "/minimize-source/fstring/named-escape",
    "s = f\"\\N{NUMBER SIGN}{x}\"  # c\n",
    "s = f\"\\N{NUMBER SIGN}{x}\"\n" },
  { "/minimize-source/string/escapes",
    "s = \"a\\\"#b\" + 'c\\'#' + r'\\'#'  # c\n",
    "s = \"a\\\"#b\" + 'c\\'#' + r'\\'#'\n" },
  { "/minimize-source/string/spanning-lines",
    "s = '''a # b   \n c'''  # d\nt = 'a \\\n# b'\n",
    "s = '''a # b   \n c'''\nt = 'a \\\n# b'\n" },
  { "/minimize-source/brackets/spanning-lines",
    "x = [\n    (1,  # one\n     {2: \"#\"}),  # two\n]\ndef f():\n    return (\n        'not a docstring')\n",
    "x = [\n    (1,\n     {2: \"#\"}),\n]\ndef f():\n    return (\n        'not a docstring')\n" },
  { "/minimize-source/continuation",
    "x = 1 + \\\n    2  # c\nif a and \\\n   b:  # d\n    pass\n",
    "x = 1 + \\\n    2\nif a and \\\n   b:\n    pass\n" },
  { "/minimize-source/trailing-blanks",
    "x = 1   \n\t\n  \ny = '''  \n'''\n",
    "x = 1\n\n\ny = '''  \n'''\n" },
  { "/minimize-source/byte-order-mark",
    "\xef\xbb\xbf# c\n\"\"\"Doc.\"\"\"\n",
    "\xef\xbb\xbf\n\n" },
  { "/minimize-source/invalid/unterminated-string",
    "x = 'abc\n# c\n",
    NULL },
  { "/minimize-source/invalid/unterminated-triple-string",
    "# c\nx = \"\"\"abc\n",
    NULL },
  { "/minimize-source/invalid/unterminated-fstring-field",
    "# c\nx = f'{abc'\n",
    NULL },
  { "/minimize-source/invalid/unclosed-bracket",
    "x = (1,  # c\n",
    NULL },
  { "/minimize-source/invalid/unopened-bracket",
    "x = 1)  # c\n",
    NULL },
  { "/minimize-source/invalid/stray-backslash",
    "x = 1 \\ 2  # c\n",
    NULL },
  { "/minimize-source/invalid/backslash-at-end",
    "x = 1  # c\ny = \\\n",
    NULL },
  { "/minimize-source/invalid/stray-character",
    "x = $1  # c\n",
    NULL },
};

static gsize
line_end_length (const gchar *text)
{
  if (text[0] == '\r' && text[1] == '\n')
    return 2;
  return (text[0] == '\r' || text[0] == '\n') ? 1 : 0;
}

/* What may be left of a line: blanks, a prefix of it, or such a prefix
 * with `pass` put where a docstring was. */
static gboolean
is_cut_from (const gchar *original,
             gsize original_len,
             const gchar *cut,
             gsize cut_len)
{
  gsize pass_len = strlen ("pass");

  if (strspn (cut, " \t\f") >= cut_len)
    return TRUE;
  if (cut_len <= original_len && memcmp (original, cut, cut_len) == 0)
    return TRUE;
  return cut_len >= pass_len &&
         memcmp (cut + cut_len - pass_len, "pass", pass_len) == 0 &&
         cut_len - pass_len <= original_len &&
         memcmp (original, cut, cut_len - pass_len) == 0;
}

/* Returns NULL when every line of @output is at the line number it had in
 * @input, ends the same way, and is cut from it; otherwise says which line
 * is not. */
static gchar *
describe_moved_line (const gchar *input,
                     const gchar *output)
{
  guint lineno;

  for (lineno = 1;; lineno++)
    {
      gsize in_len = strcspn (input, "\r\n");
      gsize out_len = strcspn (output, "\r\n");
      gsize in_end_len = line_end_length (input + in_len);
      gsize out_end_len = line_end_length (output + out_len);

      if (!is_cut_from (input, in_len, output, out_len))
        return g_strdup_printf ("line %u \"%.*s\" became \"%.*s\"", lineno,
                                (int) in_len, input, (int) out_len, output);
      if (in_end_len != out_end_len ||
          memcmp (input + in_len, output + out_len, in_end_len) != 0)
        return g_strdup_printf ("line %u ends differently", lineno);
      if (in_end_len == 0)
        return NULL;
      input += in_len + in_end_len;
      output += out_len + out_end_len;
    }
}

/* Checks what holds for any input, valid Python or not, and returns the
 * minimized source. */
static gchar *
minimize_and_check (const gchar *input)
{
  gchar *output = mitogen_minimize_source (input);
  g_autofree gchar *moved = describe_moved_line (input, output);

  g_assert_cmpstr (moved, ==, NULL);
  g_assert_cmpuint (strlen (output), <=, strlen (input));
  return output;
}

static void
test_case (gconstpointer data)
{
  const MinimizeCase *c = data;
  g_autofree gchar *output = minimize_and_check (c->input);

  g_assert_cmpstr (output, ==, c->expected ? c->expected : c->input);
}

/* Fuzzing. */

/* Bytes that mean something to the tokenizer, so random strings of them
 * reach its corners far more often than uniformly random bytes would. */
static const gchar interesting_bytes[] =
  "\"\"\"'''###\\\\\n\n\n\r\t\f    (){}[]{}:;@.=rbfuRBFN01 xdefclasync";

static gchar
random_byte (GRand *rand)
{
  if (g_rand_boolean (rand))
    return interesting_bytes[g_rand_int_range (rand, 0,
                                               sizeof interesting_bytes - 1)];
  return (gchar) g_rand_int_range (rand, 1, 256);
}

static void
test_fuzz_random_bytes (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (20240601);
  guint n_inputs = test_quick () ? 5000 : 50000;
  guint i;

  for (i = 0; i < n_inputs; i++)
    {
      gint len = g_rand_int_range (rand, 0, 80);
      g_autoptr (GString) input = g_string_sized_new (len);
      g_autofree gchar *output = NULL;
      gint j;

      for (j = 0; j < len; j++)
        g_string_append_c (input, random_byte (rand));
      output = minimize_and_check (input->str);
    }
}

static void
test_fuzz_truncated_cases (void)
{
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len = strlen (cases[i].input);
      gsize cut;

      for (cut = 0; cut < len; cut++)
        {
          g_autofree gchar *truncated = g_strndup (cases[i].input, cut);
          g_autofree gchar *output = minimize_and_check (truncated);
        }
    }
}

static void
test_fuzz_deep_nesting (void)
{
  static const gchar *const units[] = { "f\"{", "f'''{", "(", "[{", "{x:{" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (units); i++)
    {
      g_autoptr (GString) input = g_string_new ("# c\n");
      g_autofree gchar *output = NULL;
      guint j;

      for (j = 0; j < 20000; j++)
        g_string_append (input, units[i]);
      output = minimize_and_check (input->str);
      g_assert_cmpstr (output, ==, input->str);
    }
}

static void
fuzz_mutations_of (GRand *rand,
                   const gchar *text)
{
  gsize len = strlen (text);
  guint i;

  if (len == 0)
    return;

  for (i = 0; i < 8; i++)
    {
      gsize cut = g_rand_int_range (rand, 0, MIN (len, G_MAXINT32));
      g_autofree gchar *truncated = g_strndup (text, cut);
      g_autofree gchar *mutated = g_strdup (text);
      g_autofree gchar *out1 = NULL, *out2 = NULL;
      guint j;

      for (j = 0; j < 4; j++)
        mutated[g_rand_int_range (rand, 0, MIN (len, G_MAXINT32))] =
          random_byte (rand);
      out1 = minimize_and_check (truncated);
      out2 = minimize_and_check (mutated);
    }
}

/* Finding and checking the Python standard library. */

static gchar *
find_python_stdlib (void)
{
  const gchar *argv[] = {
    "python3", "-c",
    "import sysconfig; print(sysconfig.get_paths()['stdlib'])", NULL
  };
  g_autofree gchar *out = NULL;
  g_autoptr (GError) error = NULL;
  gint status;

  if (g_file_test ("/usr/lib/python3.11", G_FILE_TEST_IS_DIR))
    return g_strdup ("/usr/lib/python3.11");

  if (!g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                     NULL, &out, NULL, &status, &error) ||
      !g_spawn_check_wait_status (status, &error))
    g_error ("Could not ask python3 for its stdlib: %s", error->message);
  return g_strdup (g_strstrip (out));
}

static void
collect_python_files (const gchar *dir_path,
                      GPtrArray *paths)
{
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  const gchar *name;

  if (dir == NULL)
    return;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree gchar *path = g_build_filename (dir_path, name, NULL);

      /* Third-party packages are not the stdlib. */
      if (g_str_equal (name, "site-packages") ||
          g_str_equal (name, "dist-packages"))
        continue;
      /* A symlinked directory could lead round in a loop. */
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          if (!g_file_test (path, G_FILE_TEST_IS_SYMLINK))
            collect_python_files (path, paths);
        }
      else if (g_str_has_suffix (name, ".py"))
        g_ptr_array_add (paths, g_steal_pointer (&path));
    }
}

static gint
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const gchar *const *) a, *(const gchar *const *) b);
}

static guint
max_stdlib_files (void)
{
  const gchar *max = g_getenv ("MITOGEN_TEST_MINIMIZE_MAX_FILES");

  if (max == NULL)
    return test_quick () ? QUICK_MAX_STDLIB_FILES : DEFAULT_MAX_STDLIB_FILES;
  return (guint) g_ascii_strtoull (max, NULL, 10);
}

/* Sorted, then spread evenly over the list so that every package gets
 * checked, the same files on every run. */
static GPtrArray *
pick_stdlib_files (void)
{
  g_autofree gchar *stdlib = find_python_stdlib ();
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *picked = g_ptr_array_new_with_free_func (g_free);
  guint max = max_stdlib_files ();
  guint i;

  collect_python_files (stdlib, all);
  g_ptr_array_sort (all, compare_paths);
  if (max == 0 || max > all->len)
    max = all->len;
  for (i = 0; i < max; i++)
    g_ptr_array_add (picked,
                     g_strdup (all->pdata[(gsize) i * all->len / max]));
  return picked;
}

typedef struct {
  gchar *dir;
  GString *manifest;
  GPtrArray *written;
  guint64 bytes_in;
  guint64 bytes_out;
} CheckRun;

static void
check_run_clear (CheckRun *run)
{
  guint i;

  for (i = 0; i < run->written->len; i++)
    g_unlink (run->written->pdata[i]);
  g_rmdir (run->dir);
  g_ptr_array_unref (run->written);
  g_string_free (run->manifest, TRUE);
  g_free (run->dir);
}

/* The path stays owned by @run. */
static const gchar *
write_temp_file (CheckRun *run,
                 const gchar *name,
                 const gchar *contents)
{
  gchar *path = g_build_filename (run->dir, name, NULL);
  g_autoptr (GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  g_ptr_array_add (run->written, path);
  return path;
}

static void
minimize_stdlib_file (CheckRun *run,
                      GRand *rand,
                      const gchar *path)
{
  g_autofree gchar *contents = NULL;
  g_autofree gchar *output = NULL;
  g_autofree gchar *name = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *output_path;
  gsize len;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  if (strlen (contents) != len)
    {
      /* A C string cannot carry it; say so rather than skip silently. */
      g_test_message ("not checked, holds a NUL byte: %s", path);
      return;
    }

  output = minimize_and_check (contents);
  run->bytes_in += len;
  run->bytes_out += strlen (output);

  name = g_strdup_printf ("%04u.py", run->written->len);
  output_path = write_temp_file (run, name, output);
  g_string_append_printf (run->manifest, "%s\t%s\n", path, output_path);

  fuzz_mutations_of (rand, contents);
}

/* One python3 compiles every original and minimized file, which is much
 * quicker than one py_compile per file. */
static void
run_python_checks (CheckRun *run)
{
  g_autofree gchar *script = g_test_build_filename (G_TEST_DIST,
                                                    "minimize-check.py", NULL);
  const gchar *manifest_path = write_temp_file (run, "manifest",
                                                run->manifest->str);
  const gchar *argv[] = { "python3", script, manifest_path, NULL };
  g_autofree gchar *out = NULL;
  g_autofree gchar *err = NULL;
  g_autoptr (GError) error = NULL;
  gint status;

  g_assert_true (g_file_test (script, G_FILE_TEST_EXISTS));
  g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  g_test_message ("%s%s", out, err);
  g_spawn_check_wait_status (status, &error);
  g_assert_no_error (error);
}

static void
test_stdlib (void)
{
  g_autofree gchar *python = g_find_program_in_path ("python3");
  g_autoptr (GPtrArray) paths = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (271828);
  g_autoptr (GError) error = NULL;
  CheckRun run = { 0 };
  guint i;

  if (python == NULL)
    {
      g_test_skip ("python3 is not installed");
      return;
    }

  paths = pick_stdlib_files ();
  g_assert_cmpuint (paths->len, >, 0);

  run.dir = g_dir_make_tmp ("minimize-source-XXXXXX", &error);
  g_assert_no_error (error);
  run.manifest = g_string_new (NULL);
  run.written = g_ptr_array_new_with_free_func (g_free);

  for (i = 0; i < paths->len; i++)
    minimize_stdlib_file (&run, rand, paths->pdata[i]);
  g_test_message ("%u files, %" G_GUINT64_FORMAT " bytes minimized to %"
                  G_GUINT64_FORMAT " (%.1f%%)",
                  paths->len, run.bytes_in, run.bytes_out,
                  100.0 * run.bytes_out / MAX (run.bytes_in, 1));

  run_python_checks (&run);
  check_run_clear (&run);
}

int
main (int argc,
      char *argv[])
{
  guint i;

  g_test_init (&argc, &argv, NULL);

  for (i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add_data_func (cases[i].path, &cases[i], test_case);
  g_test_add_func ("/minimize-source/fuzz/random-bytes",
                   test_fuzz_random_bytes);
  g_test_add_func ("/minimize-source/fuzz/truncated-cases",
                   test_fuzz_truncated_cases);
  g_test_add_func ("/minimize-source/fuzz/deep-nesting",
                   test_fuzz_deep_nesting);
  g_test_add_func ("/minimize-source/stdlib", test_stdlib);

  return g_test_run ();
}
