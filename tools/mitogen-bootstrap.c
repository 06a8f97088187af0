/* mitogen-bootstrap: the second stage of starting an agent on a host where
 * nothing is installed.
 *
 * The first stage, a few lines of sh (see MitogenAgentBundle), writes this
 * program with printf into a writable directory and runs it through the
 * dynamic loader, since a file written by the shell cannot be made
 * executable without chmod. It may rely on nothing but libc: it receives
 * the agent and the libraries it needs over stdin, stores them in the
 * content-addressed cache directory (or, where that cannot be written, in
 * a temporary directory the agent removes when it exits), and runs the
 * agent in its place with the same stdin and stdout.
 *
 * Usage: LOADER SELF CACHE_DIR INTERPRETER
 *
 * Failures are reported on stdout as one `MITO000 error: …` line, which
 * the parent quotes in its error.
 *
 * SPDX-License-Identifier: BSD-3-Clause
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "MITOBND1"
#define MAGIC_LEN 8
/* Far above any real bundle; a bound on what a broken parent can make us
 * allocate. */
#define MAX_BUNDLE_SIZE (512u * 1024 * 1024)
#define MAX_FILES 256
/* Bundles of other versions older than this are removed when a new one
 * is stored, so upgrades do not pile up copies in the cache. */
#define PRUNE_AGE_SECONDS (24 * 60 * 60)

typedef struct
{
  char name[NAME_MAX + 1];
  unsigned mode;
  const unsigned char *data;
  size_t size;
} Entry;

static void
report (const char *format, ...)
{
  char line[1024];
  va_list args;
  int len;

  memcpy (line, "MITO000 error: ", 15);
  va_start (args, format);
  len = vsnprintf (line + 15, sizeof line - 16, format, args);
  va_end (args);
  if (len < 0)
    len = 0;
  len = 15 + (len < (int) sizeof line - 16 ? len : (int) sizeof line - 17);
  line[len++] = '\n';
  if (write (STDOUT_FILENO, line, (size_t) len) < 0)
    _exit (1);
}

static int
read_exact (void *buf, size_t len)
{
  unsigned char *p = buf;

  while (len > 0)
    {
      ssize_t n = read (STDIN_FILENO, p, len);
      struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };

      if (n < 0 && errno == EINTR)
        continue;
      /* Whoever shares our stdin may have made it non-blocking: wait for
       * data rather than take EAGAIN for the end. */
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          if (poll (&pfd, 1, -1) < 0 && errno != EINTR)
            return -1;
          continue;
        }
      if (n <= 0)
        return -1;
      p += n;
      len -= (size_t) n;
    }
  return 0;
}

/* Reads the bundle's body, saying `MITO000 got N` every RECEIPT_EVERY
 * bytes and at the end, N counting the header too: the parent reports them as
 * progress and counts its connect timeout from the last one, so a slow link
 * that moves does not time out. */
#define RECEIPT_EVERY (256u * 1024)

static int
read_body (unsigned char *buf, uint64_t total)
{
  uint64_t got = 0;

  while (got < total)
    {
      uint64_t left = total - got;
      size_t chunk = left < RECEIPT_EVERY ? (size_t) left : RECEIPT_EVERY;
      char line[64];
      int len;

      if (read_exact (buf + got, chunk) < 0)
        return -1;
      got += chunk;
      /* Counted as the parent counts the archive: with its header. */
      len = snprintf (line, sizeof line, "MITO000 got %llu\n",
                      (unsigned long long) (MAGIC_LEN + 8 + got));
      if (write (STDOUT_FILENO, line, (size_t) len) < 0)
        return -1;
    }
  return 0;
}

static uint64_t
get_be (const unsigned char *p, int bytes)
{
  uint64_t v = 0;

  for (int i = 0; i < bytes; i++)
    v = (v << 8) | p[i];
  return v;
}

static int
valid_name (const char *name)
{
  return name[0] && strcmp (name, ".") != 0 && strcmp (name, "..") != 0
         && !strchr (name, '/');
}

/* The whole bundle is read before anything is written, so that a failure
 * to write one place can be retried in another. */
static unsigned char *
read_bundle (Entry *entries, size_t *n_entries)
{
  unsigned char header[MAGIC_LEN + 8];
  unsigned char *buf;
  uint64_t total;
  size_t off = 0, n = 0;

  if (read_exact (header, sizeof header) < 0
      || memcmp (header, MAGIC, MAGIC_LEN) != 0)
    {
      report ("the bundle's header is missing or wrong");
      return NULL;
    }
  total = get_be (header + MAGIC_LEN, 8);
  if (total > MAX_BUNDLE_SIZE)
    {
      report ("the bundle of %llu bytes exceeds the limit of %llu bytes",
              (unsigned long long) total, (unsigned long long) MAX_BUNDLE_SIZE);
      return NULL;
    }
  buf = malloc (total ? total : 1);
  if (!buf)
    {
      report ("out of memory for a bundle of %llu bytes",
              (unsigned long long) total);
      return NULL;
    }
  if (read_body (buf, total) < 0)
    {
      report ("the bundle ended early");
      free (buf);
      return NULL;
    }

  /* Each file: name length (4), mode (4), size (8), name, data. */
  while (off < total)
    {
      uint64_t name_len, size;

      if (total - off < 16 || n == MAX_FILES)
        goto corrupt;
      name_len = get_be (buf + off, 4);
      entries[n].mode = (unsigned) get_be (buf + off + 4, 4) & 0755;
      size = get_be (buf + off + 8, 8);
      off += 16;
      if (name_len == 0 || name_len > NAME_MAX || name_len > total - off
          || size > total - off - name_len)
        goto corrupt;
      memcpy (entries[n].name, buf + off, name_len);
      entries[n].name[name_len] = '\0';
      if (!valid_name (entries[n].name))
        goto corrupt;
      entries[n].data = buf + off + name_len;
      entries[n].size = size;
      off += name_len + size;
      n++;
    }
  *n_entries = n;
  return buf;

corrupt:
  report ("the bundle is corrupt");
  free (buf);
  return NULL;
}

static int
write_file (const char *dir, const Entry *entry)
{
  char path[PATH_MAX];
  const unsigned char *p = entry->data;
  size_t left = entry->size;
  int fd;

  if (snprintf (path, sizeof path, "%s/%s", dir, entry->name)
      >= (int) sizeof path)
    {
      errno = ENAMETOOLONG;
      return -1;
    }
  fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, entry->mode | 0400);
  if (fd < 0)
    return -1;
  while (left > 0)
    {
      ssize_t n = write (fd, p, left);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          close (fd);
          errno = saved;
          return -1;
        }
      p += n;
      left -= (size_t) n;
    }
  return close (fd);
}

/* Removes a flat directory of files: bundles have no subdirectories. */
static void
remove_flat_dir (const char *path)
{
  char file[PATH_MAX];
  DIR *dir = opendir (path);
  struct dirent *e;

  if (!dir)
    return;
  while ((e = readdir (dir)))
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0 &&
        snprintf (file, sizeof file, "%s/%s", path, e->d_name) < (int) sizeof file)
      unlink (file);
  closedir (dir);
  rmdir (path);
}

static int
write_all_files (const char *dir, const Entry *entries, size_t n_entries)
{
  for (size_t i = 0; i < n_entries; i++)
    if (write_file (dir, &entries[i]) < 0)
      {
        int saved = errno;

        remove_flat_dir (dir);
        errno = saved;
        return -1;
      }
  return 0;
}

/* mkdir -p of @path's parent directories. */
static void
make_parents (const char *path)
{
  char buf[PATH_MAX];
  size_t len = strlen (path);

  if (len >= sizeof buf)
    return;
  memcpy (buf, path, len + 1);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        mkdir (buf, 0700);
        *p = '/';
      }
}

/* Bundles are named by their 64-digit hash; leftovers of an interrupted
 * store end in ".tmp". */
static int
is_bundle_name (const char *name)
{
  size_t len = strspn (name, "0123456789abcdef");

  return len == 64 && (name[64] == '\0' || (name[64] == '.' && strstr (name + 64, ".tmp")));
}

/* Removes the other bundles beside @cache_dir that were stored more than
 * a day ago. A copy another agent still runs from is safe: its files stay
 * mapped until it exits. */
static void
prune_cache (const char *cache_dir)
{
  char parent[PATH_MAX], path[PATH_MAX];
  const char *self;
  char *slash;
  DIR *dir;
  struct dirent *e;
  time_t now = time (NULL);

  if (snprintf (parent, sizeof parent, "%s", cache_dir) >= (int) sizeof parent ||
      !(slash = strrchr (parent, '/')))
    return;
  *slash = '\0';
  self = slash + 1;
  dir = opendir (parent);
  if (!dir)
    return;
  while ((e = readdir (dir)))
    {
      struct stat st;

      if (!is_bundle_name (e->d_name) || strcmp (e->d_name, self) == 0 ||
          snprintf (path, sizeof path, "%s/%s", parent, e->d_name) >= (int) sizeof path ||
          lstat (path, &st) < 0 || !S_ISDIR (st.st_mode) ||
          now - st.st_mtime < PRUNE_AGE_SECONDS)
        continue;
      remove_flat_dir (path);
    }
  closedir (dir);
}

/* Stores the files under @cache_dir by way of a private directory renamed
 * into place, so a reader never sees a partial copy. */
static int
store_in_cache (const char *cache_dir, const Entry *entries, size_t n_entries)
{
  char tmp[PATH_MAX];

  if (!cache_dir[0]
      || snprintf (tmp, sizeof tmp, "%s.%ld.tmp", cache_dir, (long) getpid ())
             >= (int) sizeof tmp)
    return -1;
  make_parents (tmp);
  if (mkdir (tmp, 0700) < 0 || write_all_files (tmp, entries, n_entries) < 0)
    return -1;
  if (rename (tmp, cache_dir) < 0)
    {
      /* Another connection stored the same content first. */
      remove_flat_dir (tmp);
      if (access (cache_dir, R_OK) < 0)
        return -1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  Entry *entries = calloc (MAX_FILES, sizeof (Entry));
  size_t n_entries = 0;
  char scratch[PATH_MAX];
  const char *dir;
  int temporary = 0;
  char *slash;

  if (argc != 4 || !entries)
    {
      report ("usage: mitogen-bootstrap SELF CACHE_DIR INTERPRETER");
      return 2;
    }
  /* The shell wrote us to a scratch directory; leave nothing there. */
  unlink (argv[1]);
  snprintf (scratch, sizeof scratch, "%s", argv[1]);
  slash = strrchr (scratch, '/');
  if (slash)
    *slash = '\0';

  if (!read_bundle (entries, &n_entries))
    return 1;

  if (store_in_cache (argv[2], entries, n_entries) == 0)
    {
      dir = argv[2];
      prune_cache (dir);
    }
  else
    {
      /* A read-only home: keep the agent only as long as it runs. */
      static char tmp[PATH_MAX];

      if (snprintf (tmp, sizeof tmp, "%s/mitogen-XXXXXX", slash ? scratch : ".")
              >= (int) sizeof tmp
          || !mkdtemp (tmp))
        {
          report ("cannot create a directory for the agent in %s: %s", scratch,
                  strerror (errno));
          return 1;
        }
      if (write_all_files (tmp, entries, n_entries) < 0)
        {
          report ("cannot store the agent in %s: %s", scratch,
                  strerror (errno));
          return 1;
        }
      dir = tmp;
      temporary = 1;
    }

  {
    char agent[PATH_MAX], bundle_arg[PATH_MAX + 16];
    char *args[]
        = { argv[3], "--library-path", (char *) dir,
            agent,   bundle_arg,       temporary ? "--temporary" : NULL,
            NULL };

    if (snprintf (agent, sizeof agent, "%s/mitogen-agent", dir)
            < (int) sizeof agent
        && snprintf (bundle_arg, sizeof bundle_arg, "--bundle=%s", dir)
               < (int) sizeof bundle_arg)
      execv (argv[3], args);
    else
      errno = ENAMETOOLONG;
    report ("cannot run %s: %s", argv[3], strerror (errno));
    if (temporary)
      remove_flat_dir (dir);
  }
  return 1;
}
