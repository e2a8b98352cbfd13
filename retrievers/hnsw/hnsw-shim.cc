// hnsw-shim.cc — hnswlib (header-only, Debian libhnswlib-dev) behind a C surface.
//
// hnswlib's own saveIndex()/loadIndex() take a path, carry no version or
// checksum and trust every size they read, so the graph is written here
// field by field into the payload of m3ret's checked index container, and
// read back with every count, id and level validated first.
#include "config.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

/* hnswlib 0.6's search prefetches the entry one past a full link list
 * (hnswalg.h, searchBaseLayer: *(datal + j + 1)), a read of up to 3 bytes
 * behind the list's malloc'd block.  glibc's chunks always have that slack
 * (blocks are 4n+1 bytes), so release builds keep the prefetch; under
 * AddressSanitizer the SSE paths are left out so the read is not made. */
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_MANUAL_VECTORIZATION
#endif
#endif
#include <hnswlib/hnswlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "hnsw-shim.h"
#include "m3ret-fileio.h"

namespace {

constexpr guint32 kPayloadVersion = 1;
constexpr guint32 kMaxLevel = 64;  // levels are ~log_M(n): 64 is far beyond any real graph
constexpr guint32 kNone = 0xffffffffu;

using Graph = hnswlib::HierarchicalNSW<float>;

void
set_exception (GError **error, const char *what, const std::exception &e)
{
  if (dynamic_cast<const std::bad_alloc *> (&e) != nullptr)
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "hnsw: %s: out of memory", what);
  else
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "hnsw: %s: %s", what, e.what ());
}

// Runs body(i) for i in [0, n) on up to n_threads threads; the first
// exception is kept and rethrown on the calling thread.
template <typename Body>
void
parallel_for (gsize n, guint n_threads, Body body)
{
  guint t = (guint) std::min<gsize> (std::max (n_threads, 1u), n);
  if (t <= 1) {
    for (gsize i = 0; i < n; i++)
      body (i);
    return;
  }
  std::atomic<gsize> next (0);
  std::exception_ptr failure;
  std::mutex failure_lock;
  auto worker = [&] () {
    for (;;) {
      gsize i = next.fetch_add (1);
      if (i >= n)
        return;
      try {
        body (i);
      } catch (...) {
        std::lock_guard<std::mutex> hold (failure_lock);
        if (!failure)
          failure = std::current_exception ();
        next.store (n);
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (guint i = 1; i < t; i++)
    threads.emplace_back (worker);
  worker ();
  for (auto &th : threads)
    th.join ();
  if (failure)
    std::rethrow_exception (failure);
}

void
put_u32 (std::vector<guint8> &out, guint32 v)
{
  for (int i = 0; i < 4; i++)
    out.push_back ((v >> (8 * i)) & 0xff);
}

// A bounds-checked little-endian cursor over the payload.
struct Reader {
  const guint8 *p;
  gsize left;
  bool ok = true;

  guint32 u32 ()
  {
    if (left < 4) {
      ok = false;
      return 0;
    }
    guint32 v = (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
    p += 4;
    left -= 4;
    return v;
  }
  const guint8 *bytes (gsize n)
  {
    if (left < n) {
      ok = false;
      return nullptr;
    }
    const guint8 *r = p;
    p += n;
    left -= n;
    return r;
  }
};

// Cosine distance 1 - a·b of unit vectors.  hnswlib picks its own SIMD
// kernel when it is compiled (SSE in a generic build), so the space is ours:
// the widest kernel this CPU runs is chosen once, at run time.
float
dot_distance_generic (const void *a, const void *b, const void *dim_ptr)
{
  const float *x = (const float *) a, *y = (const float *) b;
  size_t n = *(const size_t *) dim_ptr;
  // Four partial sums: lets the compiler keep several adds in flight.
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += x[i] * y[i];
    s1 += x[i + 1] * y[i + 1];
    s2 += x[i + 2] * y[i + 2];
    s3 += x[i + 3] * y[i + 3];
  }
  for (; i < n; i++)
    s0 += x[i] * y[i];
  return 1.0f - ((s0 + s1) + (s2 + s3));
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__ ((target ("avx"))) inline float
horizontal_sum (__m256 v)
{
  __m128 h = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  h = _mm_add_ps (h, _mm_movehl_ps (h, h));
  h = _mm_add_ss (h, _mm_shuffle_ps (h, h, 1));
  return _mm_cvtss_f32 (h);
}

__attribute__ ((target ("avx2,fma"))) float
dot_distance_avx2 (const void *a, const void *b, const void *dim_ptr)
{
  const float *x = (const float *) a, *y = (const float *) b;
  size_t n = *(const size_t *) dim_ptr;
  __m256 s0 = _mm256_setzero_ps (), s1 = _mm256_setzero_ps ();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps (_mm256_loadu_ps (x + i), _mm256_loadu_ps (y + i), s0);
    s1 = _mm256_fmadd_ps (_mm256_loadu_ps (x + i + 8), _mm256_loadu_ps (y + i + 8), s1);
  }
  for (; i + 8 <= n; i += 8)
    s0 = _mm256_fmadd_ps (_mm256_loadu_ps (x + i), _mm256_loadu_ps (y + i), s0);
  float sum = horizontal_sum (_mm256_add_ps (s0, s1));
  for (; i < n; i++)
    sum += x[i] * y[i];
  return 1.0f - sum;
}

__attribute__ ((target ("avx512f"))) float
dot_distance_avx512 (const void *a, const void *b, const void *dim_ptr)
{
  const float *x = (const float *) a, *y = (const float *) b;
  size_t n = *(const size_t *) dim_ptr;
  __m512 s0 = _mm512_setzero_ps (), s1 = _mm512_setzero_ps ();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps (_mm512_loadu_ps (x + i), _mm512_loadu_ps (y + i), s0);
    s1 = _mm512_fmadd_ps (_mm512_loadu_ps (x + i + 16), _mm512_loadu_ps (y + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16)
    s0 = _mm512_fmadd_ps (_mm512_loadu_ps (x + i), _mm512_loadu_ps (y + i), s0);
  if (i < n) {
    __mmask16 tail = (__mmask16) ((1u << (n - i)) - 1);
    s1 = _mm512_fmadd_ps (_mm512_maskz_loadu_ps (tail, x + i), _mm512_maskz_loadu_ps (tail, y + i),
                          s1);
  }
  // Halves through memory: GCC 12's 512-bit extracts (and so
  // _mm512_reduce_add_ps) warn of an uninitialised temporary.
  alignas (64) float lanes[16];
  _mm512_store_ps (lanes, _mm512_add_ps (s0, s1));
  return 1.0f - horizontal_sum (_mm256_add_ps (_mm256_load_ps (lanes), _mm256_load_ps (lanes + 8)));
}
#endif

hnswlib::DISTFUNC<float>
pick_dot_distance (const char **name)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init ();
  const char *force = g_getenv ("M3RET_HNSW_SIMD");  // for comparing the kernels
  bool any = force == nullptr || *force == '\0';
  if ((any || g_strcmp0 (force, "avx512") == 0) && __builtin_cpu_supports ("avx512f")) {
    *name = "avx512";
    return dot_distance_avx512;
  }
  if ((any || g_strcmp0 (force, "avx2") == 0) && __builtin_cpu_supports ("avx2") &&
      __builtin_cpu_supports ("fma")) {
    *name = "avx2";
    return dot_distance_avx2;
  }
#endif
  *name = "generic";
  return dot_distance_generic;
}

class DotSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit DotSpace (size_t dim) : dim_ (dim), dist_ (pick_dot_distance (&kernel_)) {}
  size_t get_data_size () override { return dim_ * sizeof (float); }
  hnswlib::DISTFUNC<float> get_dist_func () override { return dist_; }
  void *get_dist_func_param () override { return &dim_; }
  const char *kernel () const { return kernel_; }

 private:
  size_t dim_;
  const char *kernel_ = "generic";
  hnswlib::DISTFUNC<float> dist_;
};

}  // namespace

struct _M3retHnsw {
  guint dim;
  guint M;
  guint ef_construction;
  std::unique_ptr<DotSpace> space;
  std::unique_ptr<Graph> graph;
};

M3retHnsw *
m3ret_hnsw_new (guint dim, guint M, guint ef_construction, guint64 seed, GError **error)
{
  try {
    auto h = std::make_unique<M3retHnsw> ();
    h->dim = dim;
    h->M = M;
    h->ef_construction = ef_construction;
    h->space = std::make_unique<DotSpace> (dim);
    g_debug ("distance kernel: %s", h->space->kernel ());
    h->graph = std::make_unique<Graph> (h->space.get (), 1024, M, ef_construction, seed);
    return h.release ();
  } catch (const std::exception &e) {
    set_exception (error, "create", e);
    return nullptr;
  }
}

void
m3ret_hnsw_free (M3retHnsw *hnsw)
{
  delete hnsw;
}

gsize
m3ret_hnsw_count (const M3retHnsw *hnsw)
{
  return hnsw->graph->cur_element_count;
}

gboolean
m3ret_hnsw_add (M3retHnsw *hnsw, const gfloat *vectors, gsize n, guint n_threads, GError **error)
{
  Graph &g = *hnsw->graph;
  gsize base = g.cur_element_count;
  if (base + n >= kNone) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_INVALID,
                 "hnsw: at most %u vectors", kNone - 1);
    return FALSE;
  }
  try {
    if (base + n > g.max_elements_)
      g.resizeIndex (std::max (base + n, 2 * g.max_elements_));
    parallel_for (n, n_threads, [&] (gsize i) {
      g.addPoint (vectors + i * hnsw->dim, (hnswlib::labeltype) (base + i));
    });
    return TRUE;
  } catch (const std::exception &e) {
    set_exception (error, "add", e);
    return FALSE;
  }
}

gboolean
m3ret_hnsw_search (M3retHnsw *hnsw, const gfloat *queries, gsize n_queries, guint k, guint ef,
                   guint n_threads, gint64 *ids, gfloat *scores, GError **error)
{
  Graph &g = *hnsw->graph;
  try {
    g.setEf (std::max (ef, k));
    parallel_for (n_queries, n_threads, [&] (gsize q) {
      auto found = g.searchKnn (queries + q * hnsw->dim, k);
      std::vector<std::pair<gfloat, gint64>> hits;
      hits.reserve (found.size ());
      for (; !found.empty (); found.pop ())
        hits.emplace_back (1.0f - found.top ().first, (gint64) found.top ().second);
      std::sort (hits.begin (), hits.end (), [] (const auto &a, const auto &b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
      });
      for (guint i = 0; i < k; i++) {
        ids[q * k + i] = i < hits.size () ? hits[i].second : -1;
        scores[q * k + i] = i < hits.size () ? hits[i].first : -INFINITY;
      }
    });
    return TRUE;
  } catch (const std::exception &e) {
    set_exception (error, "search", e);
    return FALSE;
  }
}

// Payload, little-endian: u32 version, u32 M, u32 ef_construction,
// u32 max level (kNone when empty), u32 entry point (kNone when empty),
// then per element in internal order: u32 id, u32 level, dim float32,
// and for each level 0..level: u32 n, n × u32 neighbour (internal order).
gboolean
m3ret_hnsw_serialize (const M3retHnsw *hnsw, M3retHnswWriteFunc write, gpointer user_data,
                      GError **error)
{
  const Graph &g = *hnsw->graph;
  std::vector<guint8> buf;
  put_u32 (buf, kPayloadVersion);
  put_u32 (buf, hnsw->M);
  put_u32 (buf, hnsw->ef_construction);
  bool empty = g.cur_element_count == 0;
  put_u32 (buf, empty ? kNone : (guint32) g.maxlevel_);
  put_u32 (buf, empty ? kNone : (guint32) g.enterpoint_node_);
  for (gsize i = 0; i < g.cur_element_count; i++) {
    put_u32 (buf, (guint32) g.getExternalLabel ((hnswlib::tableint) i));
    int level = g.element_levels_[i];
    put_u32 (buf, (guint32) level);
    const guint8 *vec = (const guint8 *) g.getDataByInternalId ((hnswlib::tableint) i);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    buf.insert (buf.end (), vec, vec + hnsw->dim * sizeof (gfloat));
#else
    for (guint j = 0; j < hnsw->dim; j++) {
      guint32 v;
      memcpy (&v, vec + 4 * j, 4);
      put_u32 (buf, v);
    }
#endif
    for (int l = 0; l <= level; l++) {
      hnswlib::linklistsizeint *ll = g.get_linklist_at_level ((hnswlib::tableint) i, l);
      unsigned short n = g.getListCount (ll);
      put_u32 (buf, n);
      const hnswlib::tableint *links = (const hnswlib::tableint *) (ll + 1);
      for (unsigned short j = 0; j < n; j++)
        put_u32 (buf, links[j]);
    }
    if (buf.size () >= (1u << 20) || i + 1 == g.cur_element_count) {
      if (!write (user_data, buf.data (), buf.size (), error))
        return FALSE;
      buf.clear ();
    }
  }
  return buf.empty () || write (user_data, buf.data (), buf.size (), error);
}

static M3retHnsw *
corrupt (GError **error, const char *why)
{
  g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_CORRUPT, "hnsw payload: %s", why);
  return nullptr;
}

M3retHnsw *
m3ret_hnsw_deserialize (guint dim, gsize count, const guint8 *payload, gsize len, GError **error)
{
  Reader r { payload, len };
  guint32 version = r.u32 ();
  if (!r.ok)
    return corrupt (error, "shorter than its header");
  if (version != kPayloadVersion) {
    g_set_error (error, M3RET_FORMAT_ERROR, M3RET_FORMAT_ERROR_VERSION,
                 "hnsw payload version %u; this plugin reads version %u", version, kPayloadVersion);
    return nullptr;
  }
  guint32 M = r.u32 (), efc = r.u32 (), maxlevel = r.u32 (), entry = r.u32 ();
  if (!r.ok)
    return corrupt (error, "shorter than its header");
  if (M < 2 || M > 1000 || efc == 0 || count >= kNone)
    return corrupt (error, "impossible M, ef_construction or count");
  if (count == 0 ? (maxlevel != kNone || entry != kNone)
                 : (maxlevel >= kMaxLevel || entry >= count))
    return corrupt (error, "bad entry point or top level");
  // Each element holds at least its id, level and vector: a count the payload
  // cannot hold is refused before hnswlib allocates for it.
  if (count > 0 && count > (len / 4) / (2 + (gsize) dim))
    return corrupt (error, "shorter than its elements");
  GError *local = nullptr;
  std::unique_ptr<M3retHnsw> h (m3ret_hnsw_new (dim, M, efc, 100, &local));
  if (!h) {
    g_propagate_error (error, local);
    return nullptr;
  }
  try {
    Graph &g = *h->graph;
    if (count > g.max_elements_)
      g.resizeIndex (count);
    std::vector<bool> seen (count, false);
    for (gsize i = 0; i < count; i++) {
      guint32 id = r.u32 (), level = r.u32 ();
      const guint8 *vec = r.bytes ((gsize) dim * sizeof (gfloat));
      if (!r.ok)
        return corrupt (error, "truncated inside an element");
      if (id >= count || seen[id])
        return corrupt (error, "element ids are not a permutation of 0..count-1");
      if (level > maxlevel)
        return corrupt (error, "an element lies above the top level");
      seen[id] = true;
      auto node = (hnswlib::tableint) i;
      memset (g.get_linklist0 (node), 0, g.size_links_level0_);
      memcpy (g.getDataByInternalId (node), vec, (gsize) dim * sizeof (gfloat));
#if G_BYTE_ORDER == G_BIG_ENDIAN
      guint32 *words = (guint32 *) g.getDataByInternalId (node);
      for (guint j = 0; j < dim; j++)
        words[j] = GUINT32_FROM_LE (words[j]);
#endif
      g.setExternalLabel (node, id);
      g.element_levels_[i] = (int) level;
      g.linkLists_[i] = nullptr;
      if (level > 0) {
        g.linkLists_[i] = (char *) calloc (level, g.size_links_per_element_);
        if (g.linkLists_[i] == nullptr)
          throw std::bad_alloc ();
      }
      // From here the destructor owns this element's lists.
      g.cur_element_count = i + 1;
      for (guint32 l = 0; l <= level; l++) {
        guint32 n = r.u32 ();
        gsize cap = l == 0 ? g.maxM0_ : g.maxM_;
        if (!r.ok || n > cap)
          return corrupt (error, "a neighbour list is truncated or too long");
        hnswlib::linklistsizeint *ll = g.get_linklist_at_level (node, (int) l);
        g.setListCount (ll, (unsigned short) n);
        hnswlib::tableint *links = (hnswlib::tableint *) (ll + 1);
        for (guint32 j = 0; j < n; j++) {
          links[j] = r.u32 ();
          if (links[j] >= count)
            return corrupt (error, "a neighbour id is out of range");
        }
        if (!r.ok)
          return corrupt (error, "a neighbour list is truncated");
      }
      g.label_lookup_[id] = node;
    }
    if (r.left != 0)
      return corrupt (error, "bytes after the last element");
    // A link at level l must point at a node that has level l; search reads its list.
    for (gsize i = 0; i < count; i++)
      for (int l = 1; l <= g.element_levels_[i]; l++) {
        hnswlib::linklistsizeint *ll = g.get_linklist_at_level ((hnswlib::tableint) i, l);
        const hnswlib::tableint *links = (const hnswlib::tableint *) (ll + 1);
        for (unsigned short j = 0; j < g.getListCount (ll); j++)
          if (g.element_levels_[links[j]] < l)
            return corrupt (error, "a link points at a node below its level");
      }
    if (count > 0) {
      if ((guint32) g.element_levels_[entry] != maxlevel)
        return corrupt (error, "the entry point is not on the top level");
      g.maxlevel_ = (int) maxlevel;
      g.enterpoint_node_ = entry;
    }
    return h.release ();
  } catch (const std::exception &e) {
    set_exception (error, "load", e);
    return nullptr;
  }
}
