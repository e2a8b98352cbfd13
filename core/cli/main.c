/* main.c — the m3ret command: dispatch to one subcommand. */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct {
  const gchar *name;
  const gchar *usage;
  gint (*run) (gint argc, gchar **argv); /* NULL: arrives with a later release */
} Command;

static const Command commands[] = {
  { "plugins", "[--kind KIND] [NAME]        list plugins, or the keys of one", cmd_plugins },
  { "validate", "PIPELINE.ini               parse and check a pipeline; no heavy work", cmd_validate },
  { "synth", "--out DIR [--per-class N] [--seed S]  synthetic labelled dataset", cmd_synth },
  { "inspect", "FILE                         which plugin reads FILE, dims, spacing, stats", cmd_inspect },
  { "train", "PIPELINE.ini [--steps N] [--out DIR] [--resume CKPT]", cmd_train },
  { "embed", "PIPELINE.ini --checkpoint CKPT|random --manifest M.csv --out E.npy", cmd_embed },
  { "index", "PIPELINE.ini --embeddings E.npy --out INDEX", cmd_index },
  { "query", "PIPELINE.ini --checkpoint CKPT --index INDEX [-k K] [--montage OUT.png] FILE...", cmd_query },
  { "eval", "PIPELINE.ini --checkpoint CKPT|random --query Q.csv --database D.csv [-k 1,5,10]", cmd_eval },
  { "manifest", "DIR --out M.csv [--labels folder|dicom:ATTRIBUTE] [--split query=F --seed S]", cmd_manifest },
  { "serve", "PIPELINE.ini --checkpoint CKPT --index INDEX [--listen ADDR:PORT]  web page and JSON API", cmd_serve },
};

static void
usage (FILE *out)
{
  fprintf (out, "usage: m3ret COMMAND [OPTIONS]\n\ncommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-9s %s\n", commands[i].name, commands[i].usage);
  fprintf (out, "\n'm3ret COMMAND --help' describes a command's options.\n"
                "Plugins are searched in --plugin-path, then $M3RET_PLUGIN_PATH, then %s.\n",
           M3RET_PLUGIN_DIR);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  if (argc < 2) {
    usage (stderr);
    return M3RET_EXIT_USAGE;
  }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 ||
      strcmp (argv[1], "help") == 0) {
    usage (stdout);
    return M3RET_EXIT_OK;
  }
  if (strcmp (argv[1], "--version") == 0) {
    printf ("m3ret %s (plugin ABI %d.%d)\n", PACKAGE_VERSION, M3RET_ABI_MAJOR, M3RET_ABI_MINOR);
    return M3RET_EXIT_OK;
  }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
    if (strcmp (argv[1], commands[i].name) != 0)
      continue;
    if (commands[i].run == NULL) {
      fprintf (stderr, "m3ret: error: '%s' is not built in this version of m3ret yet\n",
               commands[i].name);
      return M3RET_EXIT_FAILURE;
    }
    return commands[i].run (argc - 1, argv + 1);
  }
  const gchar *names[G_N_ELEMENTS (commands) + 1];
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    names[i] = commands[i].name;
  names[G_N_ELEMENTS (commands)] = NULL;
  g_autofree gchar *guess = m3ret_suggest (argv[1], names);
  fprintf (stderr, "m3ret: error: unknown command '%s'%s%s%s (see m3ret --help)\n", argv[1],
           guess ? "; did you mean '" : "", guess ? guess : "", guess ? "'?" : "");
  return M3RET_EXIT_USAGE;
}
