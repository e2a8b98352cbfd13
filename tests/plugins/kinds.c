/* kinds.c — well-formed test plugins of the kinds whose tables are small;
 * TEST_KIND_* picks which (see core.am). Backends are tested with the real
 * cpu plugin: a backend table has no entry a test double could fake honestly. */
#include "test-plugins.h"

#if defined(TEST_KIND_OBJECTIVE)
static const M3retKeySpec keys[] = {
  M3RET_KEY_DOUBLE_SPEC ("mask_ratio", "0.75", 0, 0.99, "fraction of tokens masked"),
  M3RET_KEY_END
};
M3RET_PLUGIN_DEFINE (testobjective, M3RET_PLUGIN_OBJECTIVE, "0.1", "test objective", "MIT", keys,
                     NULL, &test_objective_vtable)
#elif defined(TEST_KIND_RETRIEVER)
M3RET_PLUGIN_DEFINE (testretriever, M3RET_PLUGIN_RETRIEVER, "0.1", "test retriever", "MIT", NULL,
                     NULL, &test_retriever_vtable)
#else
#error "define TEST_KIND_OBJECTIVE or TEST_KIND_RETRIEVER"
#endif
