/* m3ret.h — the public API of libm3ret: include this one header. */
#ifndef M3RET_H
#define M3RET_H

#include <m3ret-plugin.h>
#include <m3ret-registry.h>
#include <m3ret-config.h>
#include <m3ret-pipeline.h>
#include <m3ret-settings.h>
#include <m3ret-device.h>
#include <m3ret-tensor.h>
#include <m3ret-graph.h>
#include <m3ret-ops.h>
#include <m3ret-rng.h>
#include <m3ret-params.h>
#include <m3ret-vit.h>
#include <m3ret-encoder-context.h>
#include <m3ret-optim.h>
#include <m3ret-safetensors.h>
#include <m3ret-pretrained.h>
#include <m3ret-fileio.h>
#include <m3ret-npy.h>
#include <m3ret-embeddings.h>
#include <m3ret-index.h>
#include <m3ret-metrics.h>
#include <m3ret-loader.h>
#include <m3ret-modalities.h>
#include <m3ret-manifest.h>
#include <m3ret-render.h>
#include <m3ret-limits.h>
#include <m3ret-skips.h>
#include <m3ret-volume.h>
#include <m3ret-sample.h>
#include <m3ret-validate.h>
#include <m3ret-dist.h>

#endif /* M3RET_H */
