/* tissue.c — what CT, MRI and ultrasound see of each tissue.
 *
 * Textbook values (CT numbers, relative T1/T2-weighted signal, ultrasound
 * backscatter, acoustic impedance and attenuation), jittered per phantom
 * instance so that no two patients have exactly the same contrasts.
 */
#include "config.h"

#include "synth-private.h"

typedef struct {
  gdouble hu, t1w, t2w, echo, impedance, atten;
} TissueBase;

static const TissueBase base[SYNTH_N_TISSUES] = {
  [SYNTH_AIR] = { -1000, 0.00, 0.00, 0.00, 0.0004, 4.0 },
  [SYNTH_FAT] = { -100, 0.90, 0.75, 0.30, 1.38, 0.6 },
  [SYNTH_SOFT] = { 40, 0.50, 0.40, 0.45, 1.63, 0.8 },
  [SYNTH_MUSCLE] = { 50, 0.40, 0.30, 0.25, 1.70, 1.0 },
  [SYNTH_BONE] = { 1100, 0.03, 0.03, 0.90, 7.80, 8.0 },
  [SYNTH_MARROW] = { 250, 0.80, 0.55, 0.50, 1.50, 4.0 },
  [SYNTH_LUNG] = { -850, 0.04, 0.05, 0.80, 0.26, 6.0 },
  [SYNTH_BLOOD] = { 45, 0.30, 0.50, 0.03, 1.61, 0.2 },
  [SYNTH_LIVER] = { 60, 0.55, 0.30, 0.50, 1.65, 0.8 },
  [SYNTH_SPLEEN] = { 50, 0.45, 0.55, 0.45, 1.65, 0.8 },
  [SYNTH_KIDNEY] = { 35, 0.45, 0.60, 0.35, 1.62, 0.8 },
  [SYNTH_FLUID] = { 5, 0.12, 1.00, 0.00, 1.52, 0.05 },
  [SYNTH_GREY] = { 40, 0.55, 0.60, 0.30, 1.60, 0.7 },
  [SYNTH_WHITE] = { 28, 0.70, 0.45, 0.40, 1.60, 0.7 },
  [SYNTH_GAS] = { -950, 0.00, 0.00, 0.90, 0.0004, 6.0 },
  [SYNTH_CARTILAGE] = { 110, 0.50, 0.35, 0.10, 1.70, 1.0 },
  [SYNTH_LESION] = { 30, 0.40, 0.80, 0.20, 1.60, 0.8 },
};

gboolean
synth_tissue_is_gas (SynthTissue tissue)
{
  return tissue == SYNTH_AIR || tissue == SYNTH_GAS || tissue == SYNTH_LUNG;
}

void
synth_tissue_table_sample (SynthTissueTable *t, GRand *rng)
{
  for (guint i = 0; i < SYNTH_N_TISSUES; i++) {
    const TissueBase *b = &base[i];
    /* Air stays -1000 HU and silent: it is the scanner's reference, not a tissue. */
    gboolean air = i == SYNTH_AIR;
    t->hu[i] = air ? b->hu : b->hu + synth_normal (rng, 0, i == SYNTH_BONE ? 80 : 8);
    t->t1w[i] = air ? 0 : b->t1w * synth_uniform (rng, 0.9, 1.1);
    t->t2w[i] = air ? 0 : b->t2w * synth_uniform (rng, 0.9, 1.1);
    t->echo[i] = air ? 0 : b->echo * synth_uniform (rng, 0.85, 1.15);
    t->impedance[i] = b->impedance;
    t->us_atten[i] = b->atten;
  }
  /* A lesion is either darker or brighter than its surroundings, on each modality. */
  gdouble sign = g_rand_boolean (rng) ? 1 : -1;
  t->hu[SYNTH_LESION] = 45 + sign * synth_uniform (rng, 20, 45);
  t->t1w[SYNTH_LESION] = synth_uniform (rng, 0.2, 0.8);
  t->t2w[SYNTH_LESION] = synth_uniform (rng, 0.6, 0.95);
  t->echo[SYNTH_LESION] = sign > 0 ? synth_uniform (rng, 0.6, 0.8) : synth_uniform (rng, 0.05, 0.2);
}
