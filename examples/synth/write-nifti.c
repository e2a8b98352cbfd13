/* write-nifti.c — int16 volumes as single-file, gzipped NIfTI-1 through nifticlib.
 *
 * Voxel spacing in pixdim (mm), and the same diagonal affine in both qform
 * and sform (scanner coordinates, RAS+, centred on the volume), so a reader
 * may use either. scl_slope 1, scl_inter 0: stored values are the values.
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <nifti1_io.h>
#include <stdio.h>
#include <string.h>

#include "synth-private.h"

gboolean
synth_write_nifti (const gchar *path, const SynthVolume *v, GError **error)
{
  g_autofree gchar *tmp = synth_temp_path (path);
  /* nifticlib reports an unwritable file on stderr and returns nothing
   * useful, so find that out first ourselves. */
  FILE *probe = g_fopen (tmp, "wb");
  if (probe == NULL) {
    g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_IO, "%s: cannot write: %s", path,
                 g_strerror (errno));
    return FALSE;
  }
  fclose (probe);

  nifti_set_debug_level (0);
  int dims[8] = { 3, (int) v->nx, (int) v->ny, (int) v->nz, 1, 1, 1, 1 };
  nifti_image *nim = nifti_make_new_nim (dims, NIFTI_TYPE_INT16, 0);
  if (nim == NULL) {
    g_unlink (tmp);
    g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_IO, "%s: nifticlib could not make a header", path);
    return FALSE;
  }
  nim->dx = nim->pixdim[1] = (float) v->spacing[0];
  nim->dy = nim->pixdim[2] = (float) v->spacing[1];
  nim->dz = nim->pixdim[3] = (float) v->spacing[2];
  nim->xyz_units = NIFTI_UNITS_MM;
  nim->scl_slope = 1;
  nim->scl_inter = 0;
  g_strlcpy (nim->descrip, "m3ret synth", sizeof nim->descrip);

  float off[3];
  guint n[3] = { v->nx, v->ny, v->nz };
  for (guint a = 0; a < 3; a++)
    off[a] = (float) (-0.5 * (n[a] - 1) * v->spacing[a]);
  nim->qform_code = nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
  nim->quatern_b = nim->quatern_c = nim->quatern_d = 0;
  nim->qoffset_x = off[0];
  nim->qoffset_y = off[1];
  nim->qoffset_z = off[2];
  nim->qfac = 1;
  nim->qto_xyz = nifti_quatern_to_mat44 (0, 0, 0, off[0], off[1], off[2], nim->dx, nim->dy,
                                         nim->dz, 1);
  nim->qto_ijk = nifti_mat44_inverse (nim->qto_xyz);
  nim->sto_xyz = nim->qto_xyz;
  nim->sto_ijk = nim->qto_ijk;

  gboolean ok = nifti_set_filenames (nim, tmp, 0, 1) == 0;
  if (ok) {
    nim->data = v->data; /* borrowed for the write */
    znzFile fp = nifti_image_write_hdr_img (nim, 3 /* write data, leave open */, "wb1");
    nim->data = NULL;
    ok = !znz_isnull (fp) && znzclose (fp) == 0;
  }
  nifti_image_free (nim);
  if (!ok) {
    g_unlink (tmp);
    g_set_error (error, M3RET_SYNTH_ERROR, M3RET_SYNTH_ERROR_IO, "%s: cannot write NIfTI", path);
    return FALSE;
  }
  return synth_commit_file (tmp, path, error);
}
