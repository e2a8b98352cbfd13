/* render-endoscopy.c — a short RGB clip of an endoscope moving down a lumen.
 *
 * The lumen is a tube along z whose radius is modulated by the site's folds
 * (esophageal longitudinal folds, gastric rugae, duodenal circular folds,
 * colonic haustra with a triangular section); a polyp is a sphere set into
 * the wall. Rays from the camera are marched through the distance-like field
 * min(wall, polyp) and shaded by the light at the tip (diffuse with inverse
 * square fall-off, a wet specular highlight), on mucosa coloured and
 * textured per site, with the endoscope's round field of view. The camera
 * advances, sways and rolls a little from frame to frame.
 */
#include "config.h"

#include <math.h>

#include "synth-private.h"

typedef enum { FOLDS_LONGITUDINAL, FOLDS_RUGAE, FOLDS_CIRCULAR, FOLDS_HAUSTRA } FoldKind;

typedef struct {
  const gchar *name;
  gdouble radius;
  gdouble mucosa[3], accent[3]; /* base colour; vessels or patches */
  FoldKind folds;
  gdouble fold_depth, fold_period;
  gdouble texture_scale;
} Site;

/* Colours are linear light; the frame is gamma-encoded at the end. */
static const Site sites[SYNTH_N_SITES] = {
  [SYNTH_ESOPHAGUS] = { "esophagus", 0.9, { 0.70, 0.38, 0.34 }, { 0.85, 0.70, 0.68 },
                        FOLDS_LONGITUDINAL, 0.18, 0, 3 },
  [SYNTH_STOMACH] = { "stomach", 2.0, { 0.72, 0.20, 0.10 }, { 0.50, 0.08, 0.05 }, FOLDS_RUGAE, 0.25,
                      0, 2 },
  [SYNTH_DUODENUM] = { "duodenum", 1.0, { 0.75, 0.42, 0.15 }, { 0.85, 0.65, 0.25 }, FOLDS_CIRCULAR,
                       0.3, 0.7, 12 },
  [SYNTH_COLON] = { "colon", 1.4, { 0.78, 0.35, 0.25 }, { 0.35, 0.03, 0.05 }, FOLDS_HAUSTRA, 0.35,
                    1.6, 5 },
};

const gchar *
synth_site_name (SynthSite site)
{
  return site < SYNTH_N_SITES ? sites[site].name : NULL;
}

/* One clip's scene: the site and this sample's draw of it. */
typedef struct {
  const Site *site;
  gdouble radius, depth, phase, twist, cos_twist, sin_twist;
  gdouble colour[3], accent[3];
  guint32 texture_seed;
  gboolean polyp;
  gdouble polyp_c[3], polyp_r, polyp_colour[3];
} Scene;

static inline gdouble
hash01 (guint32 seed, gint32 x, gint32 y)
{
  guint32 h = seed ^ ((guint32) x * 0x9E3779B1u) ^ ((guint32) y * 0x85EBCA77u);
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  h *= 0x297A2D39u;
  h ^= h >> 15;
  return h / 4294967296.0;
}

/* Smooth value noise in [0, 1), periodic with @period cells along u. */
static gdouble
noise (guint32 seed, gdouble u, gdouble v, gint32 period)
{
  gdouble fu = floor (u), fv = floor (v);
  gdouble du = u - fu, dv = v - fv;
  gint32 iu = ((gint32) fu % period + period) % period, iv = (gint32) fv;
  gint32 iu1 = (iu + 1) % period;
  du = du * du * (3 - 2 * du);
  dv = dv * dv * (3 - 2 * dv);
  gdouble a = hash01 (seed, iu, iv), b = hash01 (seed, iu1, iv);
  gdouble c = hash01 (seed, iu, iv + 1), d = hash01 (seed, iu1, iv + 1);
  return (a * (1 - du) + b * du) * (1 - dv) + (c * (1 - du) + d * du) * dv;
}

static inline gdouble
pow_int (gdouble x, guint e)
{
  gdouble r = 1;
  for (guint i = 0; i < e; i++)
    r *= x;
  return r;
}

/* (cos nθ, sin nθ) from (cos θ, sin θ), by complex powers: cheaper than atan2 and cos. */
static inline void
turn (gdouble c, gdouble s, guint n, gdouble *cn, gdouble *sn)
{
  gdouble x = 1, y = 0;
  for (guint i = 0; i < n; i++) {
    gdouble t = x * c - y * s;
    y = x * s + y * c;
    x = t;
  }
  *cn = x;
  *sn = y;
}

/* Lumen radius in the direction (cos θ, sin θ) = (@c, @s) at depth @z. */
static gdouble
wall_radius (const Scene *sc, gdouble c, gdouble s, gdouble z)
{
  gdouble r = sc->radius, d = sc->depth, cn, sn;
  switch (sc->site->folds) {
  case FOLDS_LONGITUDINAL: {
    gdouble phi = sc->phase + sc->twist * z; /* cos (6θ + phi) */
    turn (c, s, 6, &cn, &sn);
    return r * (1 - d * pow_int (0.5 + 0.5 * (cn * cos (phi) - sn * sin (phi)), 4));
  }
  case FOLDS_RUGAE: {
    gdouble psi = 1.2 * sin (0.8 * z + sc->phase); /* sin (5θ + psi) */
    turn (c, s, 5, &cn, &sn);
    return r * (1 - d * pow_int (0.5 + 0.5 * (sn * cos (psi) + cn * sin (psi)), 3));
  }
  case FOLDS_CIRCULAR:
    return r * (1 - d * pow_int (0.5 + 0.5 * cos (2 * G_PI * z / sc->site->fold_period + sc->phase +
                                                  0.4 * s), 6));
  case FOLDS_HAUSTRA:
  default: /* cos (3θ + twist) */
    turn (c, s, 3, &cn, &sn);
    return r * (1 + 0.12 * (cn * sc->cos_twist - sn * sc->sin_twist)) *
           (1 - d * pow_int (0.5 + 0.5 * cos (2 * G_PI * z / sc->site->fold_period + sc->phase), 8));
  }
}

/* Positive inside the open lumen, roughly the distance to the nearest surface. */
static gdouble
field (const Scene *s, const gdouble p[3])
{
  gdouble r = sqrt (p[0] * p[0] + p[1] * p[1]);
  gdouble c = r > 1e-9 ? p[0] / r : 1, sn = r > 1e-9 ? p[1] / r : 0;
  gdouble f = wall_radius (s, c, sn, p[2]) - r;
  if (s->polyp) {
    gdouble dx = p[0] - s->polyp_c[0], dy = p[1] - s->polyp_c[1], dz = p[2] - s->polyp_c[2];
    f = MIN (f, sqrt (dx * dx + dy * dy + dz * dz) - s->polyp_r);
  }
  return f;
}

static void
albedo (const Scene *s, const gdouble p[3], gdouble rgb[3])
{
  const Site *site = s->site;
  gdouble th = atan2 (p[1], p[0]);
  gint32 period = (gint32) (8 * site->texture_scale);
  gdouble u = (th / (2 * G_PI) + 0.5) * period, v = p[2] * site->texture_scale * 0.8;
  if (s->polyp) {
    gdouble dx = p[0] - s->polyp_c[0], dy = p[1] - s->polyp_c[1], dz = p[2] - s->polyp_c[2];
    if (sqrt (dx * dx + dy * dy + dz * dz) < s->polyp_r * 1.02) {
      gdouble spots = 0.8 + 0.35 * noise (s->texture_seed + 7, u * 3, v * 3, period * 3);
      for (guint c = 0; c < 3; c++)
        rgb[c] = s->polyp_colour[c] * spots;
      return;
    }
  }
  gdouble n1 = noise (s->texture_seed, u, v, period);
  gdouble n2 = noise (s->texture_seed + 1, u * 4, v * 4, period * 4);
  gdouble shade = 0.8 + 0.25 * n1 + 0.15 * n2;
  /* Vessels where a band of the noise crosses mid-level; patches elsewhere. */
  gdouble mix = site->folds == FOLDS_HAUSTRA || site->folds == FOLDS_LONGITUDINAL
                  ? CLAMP (1 - fabs (n2 - 0.5) / 0.04, 0, 1) * 0.7
                  : CLAMP ((n1 - 0.6) / 0.2, 0, 1) * 0.5;
  for (guint c = 0; c < 3; c++)
    rgb[c] = shade * (s->colour[c] * (1 - mix) + s->accent[c] * mix);
}

static void
scene_draw (Scene *s, SynthSite site, GRand *rng, gdouble z_start, gdouble z_span)
{
  s->site = &sites[site];
  s->radius = s->site->radius * synth_uniform (rng, 0.85, 1.15);
  s->depth = s->site->fold_depth * synth_uniform (rng, 0.7, 1.3);
  s->phase = synth_uniform (rng, 0, 2 * G_PI);
  s->twist = synth_normal (rng, 0, 0.3);
  s->cos_twist = cos (s->twist);
  s->sin_twist = sin (s->twist);
  for (guint c = 0; c < 3; c++) {
    s->colour[c] = s->site->mucosa[c] * synth_uniform (rng, 0.9, 1.1);
    s->accent[c] = s->site->accent[c] * synth_uniform (rng, 0.9, 1.1);
  }
  s->texture_seed = g_rand_int (rng);
  s->polyp = g_rand_boolean (rng);
  if (s->polyp) {
    gdouble th = synth_uniform (rng, 0, 2 * G_PI), z = z_start + synth_uniform (rng, 1.2, 1.2 + z_span);
    gdouble wall = wall_radius (s, cos (th), sin (th), z);
    s->polyp_r = s->radius * synth_uniform (rng, 0.18, 0.4);
    s->polyp_c[0] = wall * 0.95 * cos (th);
    s->polyp_c[1] = wall * 0.95 * sin (th);
    s->polyp_c[2] = z;
    s->polyp_colour[0] = synth_uniform (rng, 0.65, 0.85);
    s->polyp_colour[1] = synth_uniform (rng, 0.1, 0.2);
    s->polyp_colour[2] = synth_uniform (rng, 0.08, 0.15);
  }
}

/* Colour seen along the ray @o + t·@d; black when nothing is near enough to light. */
static void
trace (const Scene *s, const gdouble o[3], const gdouble d[3], gdouble rgb[3])
{
  gdouble t = 0, p[3];
  gboolean hit = FALSE;
  for (guint step = 0; step < 40 && t < 10; step++) {
    for (guint a = 0; a < 3; a++)
      p[a] = o[a] + t * d[a];
    gdouble f = field (s, p);
    if (f < 0.004) {
      hit = TRUE;
      break;
    }
    t += MAX (0.85 * f, 0.015);
  }
  rgb[0] = rgb[1] = rgb[2] = 0;
  if (!hit)
    return;
  gdouble nrm[3], e = 0.01, len = 0;
  for (guint a = 0; a < 3; a++) {
    gdouble q[3] = { p[0], p[1], p[2] };
    q[a] += e;
    gdouble fp = field (s, q);
    q[a] -= 2 * e;
    nrm[a] = fp - field (s, q);
    len += nrm[a] * nrm[a];
  }
  len = sqrt (len) + 1e-12;
  gdouble facing = 0;
  for (guint a = 0; a < 3; a++)
    facing -= nrm[a] / len * d[a];
  facing = MAX (facing, 0);
  gdouble light = 1.0 / (1 + 0.25 * t * t);
  gdouble spec = 0.6 * pow_int (facing, 32) * light;
  gdouble base[3];
  albedo (s, p, base);
  for (guint c = 0; c < 3; c++)
    rgb[c] = base[c] * (0.04 + 0.85 * facing * light) + spec;
}

void
synth_render_endoscopy (SynthSite site, guint size, guint n_frames, GRand *rng, SynthVideo *out)
{
  gdouble speed = synth_uniform (rng, 0.05, 0.15);
  Scene scene;
  scene_draw (&scene, site, rng, 0, speed * n_frames);
  gdouble sway = synth_uniform (rng, 0.1, 0.3) * scene.radius;
  gdouble w1 = synth_uniform (rng, 0.1, 0.3), w2 = synth_uniform (rng, 0.1, 0.3);
  gdouble ph1 = synth_uniform (rng, 0, 2 * G_PI), ph2 = synth_uniform (rng, 0, 2 * G_PI);
  gdouble roll0 = synth_uniform (rng, 0, 2 * G_PI), roll_rate = synth_normal (rng, 0, 0.03);
  gdouble look = synth_uniform (rng, 0.05, 0.25); /* how far the tip points off the axis */
  gdouble exposure = synth_uniform (rng, 0.85, 1.2);
  gdouble focal = 0.6; /* about 120 degrees across */

  out->width = out->height = size;
  out->n_frames = n_frames;
  out->fps = 25;
  out->rgb = g_new0 (guint8, (gsize) n_frames * size * size * 3);
  for (guint f = 0; f < n_frames; f++) {
    gdouble o[3] = { sway * sin (w1 * f + ph1), sway * cos (w2 * f + ph2), speed * f };
    gdouble roll = roll0 + roll_rate * f, cr = cos (roll), sr = sin (roll);
    gdouble yaw = look * sin (w2 * f + ph1), pitch = look * cos (w1 * f + ph2);
    gdouble cy = cos (yaw), sy = sin (yaw), cp = cos (pitch), sp = sin (pitch);
    guint8 *frame = out->rgb + (gsize) f * size * size * 3;
    for (guint row = 0; row < size; row++)
      for (guint col = 0; col < size; col++) {
        gdouble u = 2.0 * (col + 0.5) / size - 1, v = 1 - 2.0 * (row + 0.5) / size;
        if (u * u + v * v > 0.96) /* the scope's round field of view */
          continue;
        gdouble x = cr * u - sr * v, y = sr * u + cr * v, z = focal;
        /* Pitch about x, then yaw about y. */
        gdouble y1 = cp * y - sp * z, z1 = sp * y + cp * z;
        gdouble x2 = cy * x + sy * z1, z2 = -sy * x + cy * z1;
        gdouble len = sqrt (x2 * x2 + y1 * y1 + z2 * z2);
        gdouble d[3] = { x2 / len, y1 / len, z2 / len }, rgb[3];
        trace (&scene, o, d, rgb);
        for (guint c = 0; c < 3; c++)
          frame[(row * size + col) * 3 + c] =
            (guint8) lround (255 * pow (CLAMP (rgb[c] * exposure, 0, 1), 1 / 2.2));
      }
  }
}
