/* phantom.c — the library of anatomical phantoms, one builder per body region.
 *
 * An anatomy is a list of simple solids (ellipsoids and elliptic cylinders,
 * optionally hollow) painted in order, later ones over earlier ones, in
 * normalised coordinates: x to the patient's right, y anterior, z superior,
 * each in [-1, 1] over the region's field of view. Every instance draws its
 * organ sizes and positions, its pose (scale, rotation, tilt, shift), its
 * tissue values and its lesions from the generator it is given, then is
 * rasterised once on an isotropic grid that every modality renders from.
 */
#include "config.h"

#include <math.h>

#include "synth-private.h"

typedef enum { SHAPE_ELLIPSOID, SHAPE_CYLINDER } ShapeKind;

typedef struct {
  ShapeKind kind;
  SynthTissue tissue;
  gdouble c[3], r[3];
  gdouble cos_a, sin_a; /* rotation about z */
  gdouble hollow;       /* 0, or the inner fraction left out (shells, rings) */
  gdouble bound2;       /* squared radius of a sphere around it, to skip it fast */
} Shape;

typedef struct {
  GArray *shapes;
  GRand *rng;
} Builder;

static const gchar *const region_names[SYNTH_N_REGIONS] = {
  "head", "chest", "abdomen", "pelvis", "knee",
};

/* Field of view per region, mm: the scanner frames a head tighter than a torso. */
static const gdouble region_fov[SYNTH_N_REGIONS] = { 240, 400, 400, 420, 200 };

const gchar *
synth_region_name (SynthRegion region)
{
  return region < SYNTH_N_REGIONS ? region_names[region] : NULL;
}

static void
put (Builder *b, ShapeKind kind, SynthTissue tissue, gdouble cx, gdouble cy, gdouble cz,
     gdouble rx, gdouble ry, gdouble rz, gdouble angle, gdouble hollow)
{
  Shape s = { kind, tissue, { cx, cy, cz }, { rx, ry, rz }, cos (angle), sin (angle), hollow, 0 };
  gdouble m = MAX (rx, ry);
  s.bound2 = kind == SHAPE_ELLIPSOID ? MAX (m, rz) * MAX (m, rz) : m * m + rz * rz;
  g_array_append_val (b->shapes, s);
}

/* The same solid with its own small random shift and size change. */
static void
vary (Builder *b, ShapeKind kind, SynthTissue tissue, gdouble cx, gdouble cy, gdouble cz,
      gdouble rx, gdouble ry, gdouble rz, gdouble angle)
{
  GRand *g = b->rng;
  put (b, kind, tissue, cx + synth_normal (g, 0, 0.015), cy + synth_normal (g, 0, 0.015),
       cz + synth_normal (g, 0, 0.02), rx * synth_uniform (g, 0.88, 1.12),
       ry * synth_uniform (g, 0.88, 1.12), rz * synth_uniform (g, 0.9, 1.1),
       angle + synth_normal (g, 0, 0.05), 0);
}

/* A bone with marrow inside, both varied together so the cortex stays whole. */
static void
bone (Builder *b, ShapeKind kind, gdouble cx, gdouble cy, gdouble cz, gdouble rx, gdouble ry,
      gdouble rz, gdouble angle, gdouble cortex)
{
  gdouble f = synth_uniform (b->rng, 0.9, 1.1);
  put (b, kind, SYNTH_BONE, cx, cy, cz, rx * f, ry * f, rz * f, angle, 0);
  gdouble inner = kind == SHAPE_CYLINDER ? rz * f : rz * f * cortex;
  put (b, kind, SYNTH_MARROW, cx, cy, cz, rx * f * cortex, ry * f * cortex, inner, angle, 0);
}

/* 0 to @max_count blobs of @tissue inside the ellipsoid (@c, @r) of a host organ. */
static void
lesions (Builder *b, SynthTissue tissue, const gdouble c[3], const gdouble r[3], guint max_count,
         gdouble rmin, gdouble rmax)
{
  guint n = g_rand_int_range (b->rng, 0, (gint32) max_count + 1);
  for (guint l = 0; l < n; l++) {
    gdouble u[3], norm;
    do {
      for (guint a = 0; a < 3; a++)
        u[a] = synth_uniform (b->rng, -1, 1);
      norm = u[0] * u[0] + u[1] * u[1] + u[2] * u[2];
    } while (norm > 1);
    gdouble rad = synth_uniform (b->rng, rmin, rmax);
    put (b, SHAPE_ELLIPSOID, tissue, c[0] + 0.6 * u[0] * r[0], c[1] + 0.6 * u[1] * r[1],
         c[2] + 0.6 * u[2] * r[2], rad * synth_uniform (b->rng, 0.8, 1.2),
         rad * synth_uniform (b->rng, 0.8, 1.2), rad * synth_uniform (b->rng, 0.8, 1.2),
         synth_uniform (b->rng, 0, G_PI), 0);
  }
}

/* Loops of bowel: soft tissue, half of them with gas inside. */
static void
bowel (Builder *b, guint n, gdouble x0, gdouble x1, gdouble y0, gdouble y1, gdouble z0, gdouble z1)
{
  for (guint l = 0; l < n; l++) {
    gdouble c[3] = { synth_uniform (b->rng, x0, x1), synth_uniform (b->rng, y0, y1),
                     synth_uniform (b->rng, z0, z1) };
    gdouble r = synth_uniform (b->rng, 0.07, 0.13);
    gdouble a = synth_uniform (b->rng, 0, G_PI);
    put (b, SHAPE_ELLIPSOID, SYNTH_SOFT, c[0], c[1], c[2], r, r * 0.8, r * 1.3, a, 0);
    if (g_rand_boolean (b->rng))
      put (b, SHAPE_ELLIPSOID, SYNTH_GAS, c[0], c[1], c[2], r * 0.5, r * 0.4, r * 0.6, a, 0);
  }
}

static void
build_head (Builder *b)
{
  GRand *g = b->rng;
  gdouble s = synth_uniform (g, 0.92, 1.04);
  gdouble c[3] = { 0, -0.02, 0.12 };
  gdouble r[3] = { 0.64 * s * synth_uniform (g, 0.95, 1.05), 0.8 * s, 0.76 * s };
  vary (b, SHAPE_CYLINDER, SYNTH_SOFT, 0, -0.1, -0.8, 0.36, 0.38, 0.35, 0);   /* neck */
  vary (b, SHAPE_ELLIPSOID, SYNTH_SOFT, 0, 0.32, -0.38, 0.5, 0.5, 0.42, 0);  /* face */
  put (b, SHAPE_ELLIPSOID, SYNTH_SOFT, c[0], c[1], c[2], r[0] + 0.06, r[1] + 0.06, r[2] + 0.06, 0, 0);
  put (b, SHAPE_ELLIPSOID, SYNTH_BONE, c[0], c[1], c[2], r[0], r[1], r[2], 0,
       synth_uniform (g, 0.86, 0.9));
  /* An infant's open fontanelle at the vertex: ultrasound's window into the head. */
  put (b, SHAPE_ELLIPSOID, SYNTH_SOFT, 0, c[1] + 0.08, c[2] + r[2], 0.14, 0.16, 0.12, 0, 0);
  gdouble brain = 0.87;
  put (b, SHAPE_ELLIPSOID, SYNTH_GREY, c[0], c[1], c[2], r[0] * brain, r[1] * brain, r[2] * brain, 0, 0);
  gdouble w = synth_uniform (g, 0.62, 0.7);
  put (b, SHAPE_ELLIPSOID, SYNTH_WHITE, c[0], c[1], c[2] + 0.03, r[0] * w, r[1] * w, r[2] * w, 0, 0);
  gdouble v = synth_uniform (g, 0.7, 1.5); /* ventricle size grows with age */
  for (gint side = -1; side <= 1; side += 2)
    vary (b, SHAPE_ELLIPSOID, SYNTH_FLUID, side * 0.09 * s, 0.02, 0.2, 0.05 * v, 0.28 * s, 0.1 * v,
          side * 0.15);
  for (gint side = -1; side <= 1; side += 2) {
    put (b, SHAPE_ELLIPSOID, SYNTH_FAT, side * 0.27 * s, 0.62 * s, -0.28, 0.16, 0.16, 0.13, 0, 0);
    vary (b, SHAPE_ELLIPSOID, SYNTH_FLUID, side * 0.27 * s, 0.68 * s, -0.28, 0.1, 0.1, 0.1, 0);
    vary (b, SHAPE_ELLIPSOID, SYNTH_GAS, side * 0.2, 0.45, -0.52, 0.1, 0.12, 0.1, 0); /* maxillary sinus */
  }
  vary (b, SHAPE_ELLIPSOID, SYNTH_GAS, 0, 0.55 * s, -0.45, 0.08, 0.14, 0.12, 0); /* nasal cavity */
  put (b, SHAPE_CYLINDER, SYNTH_BONE, 0, 0.35, -0.72, 0.42, 0.38, 0.07, 0, 0.85); /* mandible */
  bone (b, SHAPE_CYLINDER, 0, -0.22, -0.85, 0.1, 0.1, 0.3, 0, 0.6);               /* cervical spine */
  gdouble host[3] = { r[0] * 0.6, r[1] * 0.6, r[2] * 0.5 };
  lesions (b, SYNTH_LESION, c, host, 2, 0.05, 0.12);
}

static void
spine (Builder *b, gdouble y, gdouble rx, gdouble ry)
{
  bone (b, SHAPE_CYLINDER, 0, y, 0, rx, ry, 1.5, 0, 0.7);
  put (b, SHAPE_CYLINDER, SYNTH_FLUID, 0, y - ry - 0.04, 0, 0.04, 0.035, 1.5, 0, 0); /* canal */
}

static void
build_chest (Builder *b)
{
  GRand *g = b->rng;
  gdouble w = synth_uniform (g, 0.9, 1.05), d = synth_uniform (g, 0.88, 1.05);
  put (b, SHAPE_CYLINDER, SYNTH_FAT, 0, 0, 0, 0.86 * w, 0.6 * d, 1.5, 0, 0);
  put (b, SHAPE_CYLINDER, SYNTH_MUSCLE, 0, 0, 0, 0.8 * w, 0.54 * d, 1.5, 0, 0);
  put (b, SHAPE_CYLINDER, SYNTH_SOFT, 0, 0, 0, 0.72 * w, 0.47 * d, 1.5, 0, 0);
  gdouble z = -0.92 + synth_normal (g, 0, 0.03), step = synth_uniform (g, 0.32, 0.38);
  for (; z < 1.0; z += step)
    put (b, SHAPE_CYLINDER, SYNTH_BONE, 0, 0, z, 0.74 * w, 0.49 * d, 0.035, 0, 0.92);
  for (gint side = -1; side <= 1; side += 2) {
    vary (b, SHAPE_ELLIPSOID, SYNTH_BONE, side * 0.33 * w, -0.47 * d, 0.35, 0.16, 0.025, 0.3,
          side * 0.45); /* scapula, behind the ribs */
    vary (b, SHAPE_ELLIPSOID, SYNTH_LUNG, side * 0.35 * w, -0.03, 0.05, 0.3 * w, 0.39 * d, 0.95, 0);
  }
  gdouble hc[3] = { -0.08, 0.17 * d, -0.3 };
  gdouble hs = synth_uniform (g, 0.85, 1.2);
  put (b, SHAPE_ELLIPSOID, SYNTH_MUSCLE, hc[0], hc[1], hc[2], 0.27 * hs, 0.22 * hs, 0.32 * hs, 0.4, 0);
  put (b, SHAPE_ELLIPSOID, SYNTH_BLOOD, hc[0], hc[1], hc[2], 0.17 * hs, 0.14 * hs, 0.2 * hs, 0.4, 0);
  vary (b, SHAPE_CYLINDER, SYNTH_BLOOD, -0.1, -0.25 * d, 0, 0.065, 0.065, 1.5, 0); /* aorta */
  vary (b, SHAPE_CYLINDER, SYNTH_GAS, 0, 0.02, 0.6, 0.06, 0.06, 0.45, 0);          /* trachea */
  put (b, SHAPE_CYLINDER, SYNTH_BONE, 0, 0.5 * d, 0.05, 0.07, 0.03, 0.6, 0, 0);    /* sternum */
  spine (b, -0.42 * d, 0.1, 0.09);
  for (gint side = -1; side <= 1; side += 2) {
    gdouble c[3] = { side * 0.35 * w, -0.03, 0.05 }, r[3] = { 0.25, 0.33, 0.8 };
    lesions (b, SYNTH_LESION, c, r, 2, 0.03, 0.08); /* nodules */
  }
}

static void
build_abdomen (Builder *b)
{
  GRand *g = b->rng;
  gdouble w = synth_uniform (g, 0.88, 1.05), d = synth_uniform (g, 0.85, 1.05);
  put (b, SHAPE_CYLINDER, SYNTH_FAT, 0, 0, 0, 0.86 * w, 0.62 * d, 1.5, 0, 0);
  put (b, SHAPE_CYLINDER, SYNTH_MUSCLE, 0, 0, 0, 0.8 * w, 0.56 * d, 1.5, 0, 0.9);
  bowel (b, 7, -0.5, 0.5, -0.05, 0.4, -1.0, 0.1);
  gdouble lc[3] = { 0.3, 0.04, 0.3 }, lr[3] = { 0.42 * synth_uniform (g, 0.85, 1.15), 0.42 * d,
                                               0.65 * synth_uniform (g, 0.85, 1.15) };
  put (b, SHAPE_ELLIPSOID, SYNTH_LIVER, lc[0], lc[1], lc[2], lr[0], lr[1], lr[2], 0.2, 0);
  vary (b, SHAPE_ELLIPSOID, SYNTH_FLUID, 0.25, 0.3 * d, -0.15, 0.06, 0.08, 0.1, 0); /* gallbladder */
  vary (b, SHAPE_ELLIPSOID, SYNTH_SPLEEN, -0.5 * w, -0.22 * d, 0.4, 0.14, 0.22, 0.3, -0.5);
  gdouble sc[3] = { -0.25, 0.25 * d, 0.5 }, sr[3] = { 0.22, 0.17, 0.25 };
  put (b, SHAPE_ELLIPSOID, SYNTH_SOFT, sc[0], sc[1], sc[2], sr[0], sr[1], sr[2], 0, 0);
  put (b, SHAPE_ELLIPSOID, SYNTH_FLUID, sc[0], sc[1], sc[2], sr[0] * 0.75, sr[1] * 0.75, sr[2] * 0.75, 0, 0);
  put (b, SHAPE_ELLIPSOID, SYNTH_GAS, sc[0], sc[1] + 0.07, sc[2] + 0.1, 0.1, 0.06, 0.08, 0, 0);
  for (gint side = -1; side <= 1; side += 2) {
    gdouble kc[3] = { side * 0.32 * w, -0.3 * d, -0.1 + synth_normal (g, 0, 0.05) };
    gdouble kr[3] = { 0.11, 0.09, 0.28 * synth_uniform (g, 0.85, 1.1) };
    put (b, SHAPE_ELLIPSOID, SYNTH_KIDNEY, kc[0], kc[1], kc[2], kr[0], kr[1], kr[2], side * 0.35, 0);
    put (b, SHAPE_ELLIPSOID, SYNTH_FLUID, kc[0] - side * 0.02, kc[1], kc[2], kr[0] * 0.35,
         kr[1] * 0.35, kr[2] * 0.5, side * 0.35, 0);
    vary (b, SHAPE_ELLIPSOID, SYNTH_MUSCLE, side * 0.17, -0.36 * d, -0.4, 0.09, 0.09, 0.8, 0); /* psoas */
    put (b, SHAPE_CYLINDER, SYNTH_MUSCLE, side * 0.16, -0.6 * d, 0, 0.12, 0.08, 1.5, 0, 0);
  }
  vary (b, SHAPE_CYLINDER, SYNTH_BLOOD, -0.06, -0.3 * d, 0, 0.06, 0.06, 1.5, 0);  /* aorta */
  vary (b, SHAPE_CYLINDER, SYNTH_BLOOD, 0.1, -0.28 * d, 0, 0.08, 0.06, 1.5, 0);   /* vena cava */
  spine (b, -0.43 * d, 0.12, 0.1);
  lesions (b, SYNTH_LESION, lc, lr, 2, 0.04, 0.1);
}

static void
build_pelvis (Builder *b)
{
  GRand *g = b->rng;
  gdouble w = synth_uniform (g, 0.88, 1.05), d = synth_uniform (g, 0.85, 1.05);
  put (b, SHAPE_CYLINDER, SYNTH_FAT, 0, 0, 0, 0.9 * w, 0.62 * d, 1.5, 0, 0);
  put (b, SHAPE_CYLINDER, SYNTH_MUSCLE, 0, 0, 0, 0.84 * w, 0.56 * d, 1.5, 0, 0.9);
  for (gint side = -1; side <= 1; side += 2)
    vary (b, SHAPE_ELLIPSOID, SYNTH_MUSCLE, side * 0.38 * w, -0.36 * d, -0.05, 0.3, 0.16, 0.75, 0);
  bowel (b, 4, -0.4, 0.4, -0.1, 0.4, 0.2, 0.9);
  for (gint side = -1; side <= 1; side += 2) {
    bone (b, SHAPE_ELLIPSOID, side * 0.5 * w, -0.15 * d, 0.45, 0.1, 0.3, 0.45, side * 0.6, 0.6);
    bone (b, SHAPE_ELLIPSOID, side * 0.42 * w, 0.02, -0.35, 0.15, 0.15, 0.15, 0, 0.75); /* femoral head */
    bone (b, SHAPE_CYLINDER, side * 0.55 * w, 0.0, -0.85, 0.1, 0.1, 0.35, 0, 0.6);      /* femur */
    vary (b, SHAPE_ELLIPSOID, SYNTH_BONE, side * 0.12, 0.42 * d, -0.45, 0.14, 0.06, 0.1, 0); /* pubis */
    vary (b, SHAPE_CYLINDER, SYNTH_BLOOD, side * 0.28 * w, 0.05, 0.3, 0.04, 0.04, 0.5, 0); /* iliac vessels */
  }
  bone (b, SHAPE_ELLIPSOID, 0, -0.45 * d, 0.25, 0.2, 0.09, 0.5, 0, 0.6); /* sacrum */
  gdouble fill = synth_uniform (g, 0.55, 1.25);
  gdouble bc[3] = { 0, 0.28 * d, -0.2 }, br[3] = { 0.22 * fill, 0.18 * fill, 0.2 * fill };
  put (b, SHAPE_ELLIPSOID, SYNTH_SOFT, bc[0], bc[1], bc[2], br[0] + 0.02, br[1] + 0.02, br[2] + 0.02, 0, 0);
  put (b, SHAPE_ELLIPSOID, SYNTH_FLUID, bc[0], bc[1], bc[2], br[0], br[1], br[2], 0, 0);
  vary (b, SHAPE_CYLINDER, SYNTH_SOFT, 0, -0.3 * d, -0.3, 0.08, 0.08, 0.4, 0); /* rectum */
  if (g_rand_boolean (g))
    put (b, SHAPE_CYLINDER, SYNTH_GAS, 0, -0.3 * d, -0.3, 0.035, 0.035, 0.3, 0, 0);
  gdouble hc[3] = { 0, 0.1, -0.3 }, hr[3] = { 0.3, 0.2, 0.3 };
  lesions (b, SYNTH_LESION, hc, hr, 2, 0.04, 0.1);
}

static void
build_knee (Builder *b)
{
  GRand *g = b->rng;
  gdouble w = synth_uniform (g, 0.85, 1.1);
  put (b, SHAPE_CYLINDER, SYNTH_FAT, 0, 0, 0, 0.58 * w, 0.58 * w, 1.5, 0, 0);
  vary (b, SHAPE_ELLIPSOID, SYNTH_MUSCLE, 0, 0, 0.85, 0.52 * w, 0.52 * w, 0.75, 0);      /* thigh */
  vary (b, SHAPE_ELLIPSOID, SYNTH_MUSCLE, 0, -0.1, -0.85, 0.45 * w, 0.42 * w, 0.7, 0);   /* calf */
  vary (b, SHAPE_ELLIPSOID, SYNTH_CARTILAGE, 0, -0.02, -0.08, 0.32, 0.19, 0.07, 0);
  gdouble gap = synth_uniform (g, -0.02, 0.03); /* joint space narrows with wear */
  bone (b, SHAPE_CYLINDER, 0, 0, 0.6, 0.15, 0.15, 0.6, 0, 0.6);                      /* femur */
  bone (b, SHAPE_ELLIPSOID, 0, 0, 0.25, 0.24, 0.18, 0.18, 0, 0.85);
  for (gint side = -1; side <= 1; side += 2)
    bone (b, SHAPE_ELLIPSOID, side * 0.14, -0.03, 0.1 + gap, 0.15, 0.17, 0.15, 0, 0.85); /* condyle */
  bone (b, SHAPE_ELLIPSOID, 0, 0, -0.25 - gap, 0.3, 0.21, 0.14, 0, 0.85);            /* plateau */
  bone (b, SHAPE_CYLINDER, 0, 0.02, -0.75, 0.14, 0.14, 0.5, 0, 0.6);                 /* tibia */
  vary (b, SHAPE_CYLINDER, SYNTH_BONE, 0.26, -0.12, -0.7, 0.055, 0.055, 0.45, 0);    /* fibula */
  bone (b, SHAPE_ELLIPSOID, 0, 0.36, 0.12 + synth_normal (g, 0, 0.03), 0.14, 0.06, 0.16, 0, 0.7);
  vary (b, SHAPE_CYLINDER, SYNTH_SOFT, 0, 0.33, -0.2, 0.07, 0.03, 0.15, 0);          /* tendon */
  vary (b, SHAPE_CYLINDER, SYNTH_BLOOD, 0, -0.32, 0, 0.045, 0.045, 1.5, 0);          /* popliteal */
  if (g_rand_boolean (g)) /* effusion above the patella */
    vary (b, SHAPE_ELLIPSOID, SYNTH_FLUID, 0, 0.25, 0.35, 0.2, 0.06, 0.12, 0);
  gdouble c[3] = { 0, 0, -0.1 }, r[3] = { 0.3, 0.2, 0.35 };
  lesions (b, SYNTH_LESION, c, r, 1, 0.04, 0.08); /* bone bruise */
}

static inline gboolean
inside (const Shape *s, const gdouble q[3])
{
  gdouble dx = q[0] - s->c[0], dy = q[1] - s->c[1], dz = q[2] - s->c[2];
  if (dx * dx + dy * dy + dz * dz > s->bound2)
    return FALSE;
  gdouble u = (s->cos_a * dx + s->sin_a * dy) / s->r[0];
  gdouble v = (-s->sin_a * dx + s->cos_a * dy) / s->r[1];
  gdouble w = dz / s->r[2], e;
  if (s->kind == SHAPE_ELLIPSOID) {
    e = u * u + v * v + w * w;
  } else {
    if (fabs (w) > 1)
      return FALSE;
    e = u * u + v * v;
  }
  return e <= 1 && e >= s->hollow * s->hollow;
}

static void (*const builders[SYNTH_N_REGIONS]) (Builder *) = {
  build_head, build_chest, build_abdomen, build_pelvis, build_knee,
};

SynthPhantom *
synth_phantom_new (SynthRegion region, guint size, GRand *rng)
{
  g_return_val_if_fail (region < SYNTH_N_REGIONS && size > 0, NULL);
  Builder b = { g_array_new (FALSE, FALSE, sizeof (Shape)), rng };
  builders[region](&b);

  /* The patient's pose on the table: size, rotation about the long axis, tilt, shift. */
  gdouble scale[3] = { synth_uniform (rng, 0.9, 1.06), synth_uniform (rng, 0.9, 1.06),
                       synth_uniform (rng, 0.92, 1.08) };
  gdouble rot = synth_normal (rng, 0, 0.1), tilt = synth_normal (rng, 0, 0.05);
  gdouble shift[3] = { synth_normal (rng, 0, 0.03), synth_normal (rng, 0, 0.03),
                       synth_normal (rng, 0, 0.05) };
  gdouble cr = cos (rot), sr = sin (rot), ct = cos (tilt), st = sin (tilt);

  SynthPhantom *p = g_new0 (SynthPhantom, 1);
  p->region = region;
  p->size = size;
  p->fov_mm = region_fov[region] * synth_uniform (rng, 0.95, 1.05);
  synth_tissue_table_sample (&p->tissue, rng);
  p->label = g_new (guint8, (gsize) size * size * size);

  const Shape *shapes = (const Shape *) b.shapes->data;
  guint n_shapes = b.shapes->len;
  gdouble h = 2.0 / size;
  for (guint k = 0; k < size; k++)
    for (guint j = 0; j < size; j++)
      for (guint i = 0; i < size; i++) {
        gdouble x = -1 + (i + 0.5) * h - shift[0], y = -1 + (j + 0.5) * h - shift[1];
        gdouble z = -1 + (k + 0.5) * h - shift[2];
        /* Undo the tilt (about x), then the rotation (about z), then the scale. */
        gdouble y1 = ct * y + st * z, z1 = -st * y + ct * z;
        gdouble q[3] = { (cr * x + sr * y1) / scale[0], (-sr * x + cr * y1) / scale[1], z1 / scale[2] };
        guint8 t = SYNTH_AIR;
        for (guint s = 0; s < n_shapes; s++)
          if (inside (&shapes[s], q))
            t = shapes[s].tissue;
        p->label[((gsize) k * size + j) * size + i] = t;
      }
  g_array_free (b.shapes, TRUE);
  return p;
}

void
synth_phantom_free (SynthPhantom *phantom)
{
  if (phantom == NULL)
    return;
  g_free (phantom->label);
  g_free (phantom);
}
