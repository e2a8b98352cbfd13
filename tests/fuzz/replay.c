/* replay.c — a plain main() around a fuzz target: feeds it each file named
 * on the command line, so the corpus and every input that once crashed a
 * reader are replayed by `make check` with the normal (gcc) build. */
#include "config.h"

#include <stdio.h>

#include "fuzz-common.h"

int
main (int argc, char **argv)
{
  fuzz_init ();
  for (int i = 1; i < argc; i++) {
    gchar *data = NULL;
    gsize size = 0;
    GError *error = NULL;
    if (!g_file_get_contents (argv[i], &data, &size, &error)) {
      fprintf (stderr, "%s: %s\n", argv[0], error->message);
      g_error_free (error);
      return 1;
    }
    LLVMFuzzerTestOneInput ((const uint8_t *) data, size);
    g_free (data);
  }
  return 0;
}
