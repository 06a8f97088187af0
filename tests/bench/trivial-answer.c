/* trivial-answer: the baseline child of bench-context. It writes one byte
 * on stdout and exits, so that timing a spawn of it until that byte arrives
 * measures what any fork+exec costs, with nothing of libmitogen or GLib to
 * load: the floor under starting a context.
 */
#include <unistd.h>

int
main (void)
{
  return write (STDOUT_FILENO, "!", 1) == 1 ? 0 : 1;
}
