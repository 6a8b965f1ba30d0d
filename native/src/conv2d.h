// Convolution primitives shared by the forward/backward-data kernels (conv2d.cc) and the
// backward-weights kernel and its variants (conv2d_weights.cc).
#pragma once

#include "primitives.h"

namespace wrn {

struct WeightsVariants;

/** One convolution problem (shapes, stride, padding, precision, mode) and its primitives. */
struct ConvEntry {
  dnnl::convolution_forward::primitive_desc fwd;
  dnnl::convolution_forward fwdP;
  bool hasBwdData = false, hasBwdWeights = false;
  dnnl::convolution_backward_data::primitive_desc bwdData;
  dnnl::convolution_backward_data bwdDataP;
  dnnl::convolution_backward_weights::primitive_desc bwdWeights;
  dnnl::convolution_backward_weights bwdWeightsP;
  dims strides, padL, padR;
  dnnl::algorithm algo;
  memory::desc src, wei, dst, diffWei;
  /** State of the backward-weights variants (conv2d_weights.cc); owned here so it lives with the entry. */
  std::shared_ptr<WeightsVariants> variants;
};

/**
 * The cached entry of a convolution computing in `type` (f32 or bf16). `inference`: no backward will
 * follow, so the forward may keep weights pre-transformed (Winograd); backward kernels use training entries.
 */
ConvEntry& convEntry(const dims& xs, const dims& ws, int stride, int pad, dt type, bool inference);

}  // namespace wrn
