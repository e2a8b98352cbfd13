/* test-abi.c — sizes of the public structs plugins are compiled against.
 *
 * A change here breaks every plugin built before it: bump M3RET_ABI_MAJOR,
 * or append at the end and use the reserved slots with a minor bump.
 * Figures are for LP64 (x86_64, aarch64); other ABIs skip.
 */
#include "config.h"

#include "m3ret-check.h"

START_TEST (test_sizes)
{
  if (sizeof (gpointer) != 8 || sizeof (glong) != 8)
    return;
  ck_assert_int_eq (M3RET_ABI_MAJOR, 2);
  ck_assert_uint_eq (sizeof (M3retPluginDesc), 96);
  ck_assert_uint_eq (sizeof (M3retKeySpec), 80); /* major 2: offset */
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retKeySpec, offset), 72);
  ck_assert_uint_eq (sizeof (M3retKeyWeights), 24);
  ck_assert_uint_eq (sizeof (M3retPluginFailure), 16);
  ck_assert_uint_eq (sizeof (M3retPluginKind), 4);
  ck_assert_uint_eq (sizeof (M3retKeyType), 4);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retPluginDesc, vtable), 56);
  /* The kinds' tables and the structs plugins fill or read. */
  ck_assert_uint_eq (sizeof (M3retModalityVTable), 88);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retModalityVTable, set_limits), 48); /* minor 1 */
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retModalityVTable, refusal), 56); /* minor 8 */
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retModalityVTable, attribute), 64); /* minor 9 */
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retModalityVTable, series_key), 72); /* minor 9 */
  ck_assert_uint_eq (sizeof (M3retLimits), 64);
  ck_assert_uint_eq (sizeof (M3retObjectiveVTable), 120);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retObjectiveVTable, check), 56); /* minor 4 */
  ck_assert_uint_eq (sizeof (M3retBackendVTable), 400);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, add_layernorm_fwd), 296); /* minor 2 */
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, bias_gelu_bwd), 304);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, linear_fwd), 312); /* minor 3 */
  /* minor 5: where minor 4's reserved slots were */
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, exp_fwd), 320);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, log_fwd), 328);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, log_bwd), 336);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, logsumexp_fwd), 344);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, logsumexp_bwd), 352);
  /* minor 6 */
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, cholesky_logdet_fwd), 360);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retBackendVTable, take_error), 368);
  ck_assert_uint_eq (sizeof (M3retRetrieverVTable), 120);
  ck_assert_uint_eq (sizeof (M3retObjectiveSetup), 88);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retObjectiveSetup, encoder_config), 56); /* minor 4 */
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retObjectiveSetup, dist), 64); /* minor 7 */
  ck_assert_uint_eq (sizeof (M3retView), 72);
  ck_assert_uint_eq (sizeof (M3retInspectInfo), 168);
  /* Core structs plugins read or fill by value: objectives read tensors,
   * batches and the encoder's configuration; modalities fill render
   * options.  M3retSettings is not here: no plugin sees it. */
  ck_assert_uint_eq (sizeof (M3retTensor), 152);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retTensor, device), 120);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retTensor, node), 128);
  ck_assert_uint_eq (sizeof (M3retBatch), 40);
  ck_assert_uint_eq (sizeof (M3retBatchView), 24);
  ck_assert_uint_eq (sizeof (M3retVitConfig), 52);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retVitConfig, pool), 44);
  ck_assert_uint_eq (sizeof (M3retRenderOptions), 64);
  ck_assert_uint_eq (G_STRUCT_OFFSET (M3retRenderOptions, std), 40);
}
END_TEST

/* The enum values are written into descriptors: they must never move. */
START_TEST (test_enum_values)
{
  ck_assert_int_eq (M3RET_PLUGIN_MODALITY, 0);
  ck_assert_int_eq (M3RET_PLUGIN_OBJECTIVE, 1);
  ck_assert_int_eq (M3RET_PLUGIN_BACKEND, 2);
  ck_assert_int_eq (M3RET_PLUGIN_RETRIEVER, 3);
  ck_assert_int_eq (M3RET_KEY_INT, 0);
  ck_assert_int_eq (M3RET_KEY_WEIGHTS, 8);
  M3retPluginKind kind;
  ck_assert (m3ret_plugin_kind_from_string ("retriever", &kind));
  ck_assert_int_eq (kind, M3RET_PLUGIN_RETRIEVER);
  ck_assert (!m3ret_plugin_kind_from_string ("decoder", &kind));
  ck_assert_str_eq (m3ret_plugin_kind_to_string (M3RET_PLUGIN_BACKEND), "backend");
}
END_TEST

static Suite *
abi_suite (void)
{
  Suite *s = suite_create ("abi");
  TCase *tc = tcase_create ("abi");
  tcase_add_test (tc, test_sizes);
  tcase_add_test (tc, test_enum_values);
  suite_add_tcase (s, tc);
  return s;
}

M3RET_CHECK_MAIN (.suite = abi_suite)
