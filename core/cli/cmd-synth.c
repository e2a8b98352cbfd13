/* cmd-synth.c — `m3ret synth`: runs the synthetic dataset generator.
 *
 * The generator is its own program, m3ret-synth (examples/synth), so that it
 * and its image and video encoders stay out of libm3ret and off this
 * command's link line.  It is found at $M3RET_SYNTH, else where `make
 * install` puts it, and runs with this command's arguments unchanged.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

gint
cmd_synth (gint argc, gchar **argv)
{
  const gchar *program = g_getenv ("M3RET_SYNTH");
  if (program == NULL || program[0] == '\0')
    program = M3RET_SYNTH_PROGRAM;
  if (!g_file_test (program, G_FILE_TEST_IS_EXECUTABLE) || g_file_test (program, G_FILE_TEST_IS_DIR))
    return cli_failf ("synth: the generator %s is not there or not executable (set M3RET_SYNTH "
                      "to its path: examples/synth/m3ret-synth in a build tree)", program);
  gchar **args = g_new0 (gchar *, argc + 1);
  args[0] = (gchar *) program;
  for (gint i = 1; i < argc; i++)
    args[i] = argv[i];
  fflush (stdout);
  fflush (stderr);
  execv (program, args);
  gint saved = errno;
  g_free (args);
  return cli_failf ("synth: cannot run the generator %s: %s", program, g_strerror (saved));
}
