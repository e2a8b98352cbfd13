/* test-validate.c — `m3ret validate` checks what a run would, and says where:
 * one pipeline per check that fails it (exit status, the exact
 * FILE:LINE: reason), one that passes, and the same refusals from
 * `m3ret train`; `--steps 0`, a --steps shorter than the warm-up, and the
 * note when a resumed run's length differs from the checkpoint's. */
#include "config.h"

#include "m3ret-check.h"

static gchar *dir; /* one synthetic set (24 files) for the whole suite */

/* Line numbers are fixed: each slot below is one line, "#" when unused. */
static const gchar *pipeline_format =
  "[pipeline]\n"          /* 1 */
  "threads=1\n"           /* 2 */
  "[input]\n"             /* 3 */
  "size=32\n"             /* 4 */
  "depth=8\n"             /* 5 */
  "tubelet=2,8,8\n"       /* 6 */
  "[encoder]\n"           /* 7 */
  "preset=micro\n"        /* 8 */
  "%s\n"                  /* 9: encoder */
  "[objective]\n"         /* 10 */
  "plugin=mae\n"          /* 11 */
  "%s\n"                  /* 12: objective */
  "[data]\n"              /* 13 */
  "%s\n"                  /* 14: train= */
  "%s\n"                  /* 15: data */
  "[modality ct]\n"       /* 16 */
  "%s\n"                  /* 17: ct */
  "[train]\n"             /* 18 */
  "batch=4\n"             /* 19 */
  "warmup=2\n"            /* 20 */
  "%s\n"                  /* 21: steps */
  "[retriever]\n"         /* 22 */
  "plugin=flat\n";        /* 23 */

typedef struct {
  const gchar *encoder, *objective, *train, *data, *ct, *steps;
} Slots;

static gchar *
write_pipeline (const gchar *name, const Slots *s)
{
  gchar *path = g_build_filename (dir, name, NULL);
  g_autofree gchar *text = g_strdup_printf (pipeline_format, s->encoder ? s->encoder : "#",
                                            s->objective ? s->objective : "#",
                                            s->train ? s->train : "train=data/manifest.csv",
                                            s->data ? s->data : "#", s->ct ? s->ct : "#",
                                            s->steps ? s->steps : "steps=10");
  ck_assert (g_file_set_contents (path, text, -1, NULL));
  return path;
}

/* A manifest of two good files of the set and five that do not exist. */
static void
write_missing_manifest (void)
{
  g_autofree gchar *path = g_build_filename (dir, "data", "missing.csv", NULL);
  ck_assert (g_file_set_contents (path,
                                  "path,modality,label\n"
                                  "xray/head_000.png,xray,head\n"
                                  "ultrasound/chest_000.png,ultrasound,chest\n"
                                  "gone1.png,xray,head\n"
                                  "gone2.png,xray,head\n"
                                  "gone3.png,xray,head\n"
                                  "gone4.png,xray,head\n"
                                  "gone5.png,xray,head\n", -1, NULL));
}

static void
make_dataset (void)
{
  dir = m3ret_check_synth_dataset (1, 1);
  write_missing_manifest ();
}

static void
remove_dataset (void)
{
  m3ret_check_rmtree (dir);
  g_clear_pointer (&dir, g_free);
}

/* Each check: the slots that break it, and the error's text after
 * "m3ret: error: " with @P for the pipeline's path and @D for the folder. */
typedef struct {
  const gchar *name;
  Slots slots;
  const gchar *error;
  gboolean prefix_only; /* the rest of the line comes from elsewhere (an OS message) */
  const gchar *train_error; /* a prefix of what train says instead; NULL: the same */
} Case;

static const Case cases[] = {
  { "ct-window", { .ct = "window=1000,-1000" },
    "@P:17: [modality ct] window=1000,-1000: give low,high with high > low", FALSE, NULL },
  { "steps-0", { .steps = "steps=0" },
    "@P:21: [train] steps=0 is out of range: allowed [1, 1000000000]", FALSE, NULL },
  { "warmup", { .steps = "steps=1" },
    "@P:20: [train] warmup=2: longer than the run (steps=1): the learning rate would never reach "
    "its peak; make warmup at most 1", FALSE, NULL },
  { "mask-ratio", { .objective = "mask_ratio=0.99" },
    "@P:12: [objective] mask_ratio=0.99: keeps none of the 16 tubelets of a still image on this "
    "grid; make it less than 0.9375", FALSE, NULL },
  { "decoder-heads", { .objective = "decoder_heads=5" },
    "@P:12: [objective] decoder_heads=5: decoder_dim 32 is not a multiple of decoder_heads 5",
    FALSE, NULL },
  { "missing-files", { .train = "train=data/missing.csv" },
    "@D/data/missing.csv:4: @D/data/gone1.png: no such file (5 of 7 entries fail: 5 missing or "
    "unreadable: @D/data/gone1.png, @D/data/gone2.png, @D/data/gone3.png and 2 more; [data] "
    "on_error=skip would leave them out)", FALSE,
    /* train stops at the first one */
    "@D/data/missing.csv:4: @D/data/gone1.png: no such file\n" },
  { "no-manifest", { .train = "train=data/nope.csv" },
    "@P:14: [data] train=data/nope.csv: @D/data/nope.csv: ", TRUE, NULL },
  { "weights", { .data = "weights=mri:0" },
    "@P:15: [data] weights=mri:0: gives 0 to every modality of @D/data/manifest.csv (ct 5 "
    "(weight 0: never drawn), endoscopy 4 (weight 0: never drawn), mri 5 (weight 0: never drawn), "
    "ultrasound 5 (weight 0: never drawn), xray 5 (weight 0: never drawn)): nothing to sample",
    FALSE, /* the loader's word for it, once the files are resolved */
    "@D/data/manifest.csv: nothing to sample" },
  { "init", { .encoder = "init=nope.safetensors" }, "@P:9: [encoder] init=nope.safetensors: ",
    TRUE, NULL },
};

/* @pattern with @P and @D replaced. (transfer full) */
static gchar *
expand (const gchar *pattern, const gchar *pipeline)
{
  GString *out = g_string_new (NULL);
  for (const gchar *c = pattern; *c; c++) {
    if (c[0] == '@' && c[1] == 'P') {
      g_string_append (out, pipeline);
      c++;
    } else if (c[0] == '@' && c[1] == 'D') {
      g_string_append (out, dir);
      c++;
    } else {
      g_string_append_c (out, *c);
    }
  }
  return g_string_free (out, FALSE);
}

static void
expect_error (const M3retCheckRun *r, const Case *c, const gchar *ini, const gchar *command)
{
  gboolean other = g_str_equal (command, "train") && c->train_error != NULL;
  gboolean prefix_only = other || c->prefix_only;
  g_autofree gchar *want = expand (other ? c->train_error : c->error, ini);
  g_autofree gchar *line = g_strdup_printf ("m3ret: error: %s%s", want, prefix_only ? "" : "\n");
  ck_assert_msg (r->status == 1, "%s %s: status %d, stderr %s", command, c->name, r->status,
                 r->err);
  ck_assert_msg (m3ret_check_count_lines (r->err) == 1, "%s %s: not one line: %s", command,
                 c->name, r->err);
  if (prefix_only)
    ck_assert_msg (g_str_has_prefix (r->err, line), "%s %s:\n got  %s want %s", command, c->name,
                   r->err, line);
  else
    ck_assert_msg (g_strcmp0 (r->err, line) == 0, "%s %s:\n got  %s want %s", command, c->name,
                   r->err, line);
}

START_TEST (test_each_check)
{
  const Case *c = &cases[_i];
  g_autofree gchar *name = g_strconcat (c->name, ".ini", NULL);
  g_autofree gchar *ini = write_pipeline (name, &c->slots);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "validate", ini, NULL);
  expect_error (&r, c, ini, "validate");
  ck_assert_str_eq (r.out, "");
  m3ret_check_run_clear (&r);
  /* train stops at the same place, before it writes anything */
  g_autofree gchar *out = g_build_filename (dir, "run-refused", NULL);
  r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet", NULL);
  expect_error (&r, c, ini, "train");
  m3ret_check_run_clear (&r);
  ck_assert (!g_file_test (out, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST (test_good)
{
  Slots slots = { 0 };
  g_autofree gchar *ini = write_pipeline ("good.ini", &slots);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "validate", ini, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert_str_eq (r.err, "");
  g_auto (GStrv) lines = g_strsplit (r.out, "\n", -1);
  ck_assert_uint_eq (g_strv_length (lines), 3);
  g_autofree gchar *ok = g_strdup_printf ("%s: ok (backend cpu, objective mae, retriever flat; ",
                                          ini);
  ck_assert_msg (g_str_has_prefix (lines[0], ok), "%s", lines[0]);
  g_autofree gchar *files = g_strdup_printf (
    "  %s/data/manifest.csv: 24 files: ct 5, endoscopy 4, mri 5, ultrasound 5, xray 5", dir);
  ck_assert_str_eq (lines[1], files);
  ck_assert_str_eq (lines[2], "");
  m3ret_check_run_clear (&r);
}
END_TEST

/* With on_error=skip, missing files are what a run would leave out: named,
 * counted, and not an error. */
START_TEST (test_skip_reports)
{
  Slots slots = { .train = "train=data/missing.csv", .data = "on_error=skip" };
  g_autofree gchar *ini = write_pipeline ("skip.ini", &slots);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "validate", ini, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  g_autofree gchar *want = g_strdup_printf (
    "  %s/data/missing.csv: a run would skip 5 of 7 files (on_error=skip):\n"
    "    5 missing or unreadable: %s/data/gone1.png, %s/data/gone2.png, %s/data/gone3.png and 2 "
    "more\n"
    "  %s/data/missing.csv: 2 files: ultrasound 1, xray 1\n", dir, dir, dir, dir, dir);
  ck_assert_msg (g_str_has_suffix (r.out, want), "got\n%swant\n%s", r.out, want);
  m3ret_check_run_clear (&r);
}
END_TEST

/* What a run would warn of, validate reports too: a row listed twice and
 * a file probed between close scores (an 8-bit grey PNG). */
START_TEST (test_notices_reported)
{
  g_autofree gchar *csv = g_build_filename (dir, "data", "twice.csv", NULL);
  ck_assert (g_file_set_contents (csv, "path,label\n"
                                       "ultrasound/head_000.png,head\n"
                                       "xray/head_000.png,head\n"
                                       "./ultrasound/head_000.png,head\n", -1, NULL));
  Slots slots = { .train = "train=data/twice.csv" };
  g_autofree gchar *ini = write_pipeline ("twice.ini", &slots);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "validate", ini, NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  g_autofree gchar *again = g_strdup_printf ("  warning: %s:4: ./ultrasound/head_000.png is listed "
                                             "again (first at line 2)", csv);
  ck_assert_msg (strstr (r.out, again) != NULL, "%s", r.out);
  ck_assert_msg (strstr (r.out, "probed as ultrasound, but the scores are close") != NULL, "%s",
                 r.out);
  m3ret_check_run_clear (&r);
}
END_TEST

/* `--steps 0` is refused as such, not read as "not given"; a --steps
 * shorter than the warm-up is refused with both named. */
START_TEST (test_train_steps_flag)
{
  Slots slots = { 0 };
  g_autofree gchar *ini = write_pipeline ("flag.ini", &slots);
  g_autofree gchar *out = g_build_filename (dir, "run-flag", NULL);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--steps", "0", NULL);
  ck_assert_int_eq (r.status, 2);
  ck_assert_str_eq (r.err, "m3ret: error: train: --steps 0: a run needs at least 1 step "
                          "(see m3ret train --help)\n");
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--steps", "1", NULL);
  ck_assert_int_eq (r.status, 1);
  g_autofree gchar *want = g_strdup_printf (
    "m3ret: error: %s:20: [train] warmup=2: longer than the run (--steps 1): the learning rate "
    "would never reach its peak; lower warmup or give --steps 2 or more\n", ini);
  ck_assert_str_eq (r.err, want);
  m3ret_check_run_clear (&r);
  ck_assert (!g_file_test (out, G_FILE_TEST_EXISTS));
}
END_TEST

/* Resuming with another total than the checkpoint's run says so, once,
 * with both totals; the same total says nothing. */
START_TEST (test_resume_note)
{
  Slots slots = { .steps = "steps=2" };
  g_autofree gchar *ini = write_pipeline ("resume.ini", &slots);
  g_autofree gchar *out = g_build_filename (dir, "run-resume", NULL);
  g_autofree gchar *ckpt = g_build_filename (out, "checkpoint.safetensors", NULL);
  M3retCheckRun r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  m3ret_check_run_clear (&r);
  r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet", "--resume", ckpt, "--steps",
                         "3", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  g_autofree gchar *want = g_strdup_printf (
    "m3ret train: note: %s comes from a run of 2 steps, this one has 3: the learning-rate and "
    "weight-decay schedules (and the objective's own, such as a teacher's momentum) now end at "
    "step 3, not 2\n", ckpt);
  ck_assert_str_eq (r.err, want);
  m3ret_check_run_clear (&r);
  /* that run's checkpoint records 3: resuming it at 3 again is no change */
  r = m3ret_check_m3ret (TRUE, "train", ini, "--out", out, "--quiet", "--resume", ckpt, "--steps",
                         "3", NULL);
  ck_assert_msg (r.status == 0, "%s", r.err);
  ck_assert_str_eq (r.err, "");
  m3ret_check_run_clear (&r);
  m3ret_check_rmtree (out);
}
END_TEST

static Suite *
validate_suite (void)
{
  Suite *s = suite_create ("validate");
  TCase *tc = tcase_create ("validate");
  tcase_add_unchecked_fixture (tc, make_dataset, remove_dataset);
  tcase_set_timeout (tc, 120);
  tcase_add_loop_test (tc, test_each_check, 0, G_N_ELEMENTS (cases));
  tcase_add_test (tc, test_good);
  tcase_add_test (tc, test_skip_reports);
  tcase_add_test (tc, test_notices_reported);
  tcase_add_test (tc, test_train_steps_flag);
  tcase_add_test (tc, test_resume_note);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = validate_suite)
