/* modcommon.h — private: the readers' former names, for tests/fuzz alone
 * (which this branch may not edit).  Remove it, and libm3ret-modcommon.la,
 * once tests/fuzz includes m3ret-readers.h and links libm3ret-readers.la. */
#ifndef M3RET_MODCOMMON_H
#define M3RET_MODCOMMON_H

#include "m3ret-readers.h"

#define McPngInfo M3retReadersPngInfo
#define McNiftiInfo M3retReadersNiftiInfo
#define McVideoInfo M3retReadersVideoInfo
#define mc_png_read m3ret_readers_png_read
#define mc_nifti_read m3ret_readers_nifti_read
#define mc_video_global_init m3ret_readers_video_global_init
#define mc_video_probe_file m3ret_readers_video_probe_file
#define mc_video_read m3ret_readers_video_read
#define mc_video_info_clear m3ret_readers_video_info_clear

#endif /* M3RET_MODCOMMON_H */
