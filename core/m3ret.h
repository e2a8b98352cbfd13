/* m3ret.h — the public API of libm3ret: include this one header. */
#ifndef M3RET_H
#define M3RET_H

#include <m3ret-plugin.h>
#include <m3ret-registry.h>
#include <m3ret-config.h>
#include <m3ret-pipeline.h>
#include <m3ret-device.h>
#include <m3ret-tensor.h>
#include <m3ret-graph.h>
#include <m3ret-ops.h>
#include <m3ret-rng.h>
#include <m3ret-params.h>
#include <m3ret-vit.h>
#include <m3ret-optim.h>

#endif /* M3RET_H */
