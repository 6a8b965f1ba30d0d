// Kernels of the Backend interface (see src/backend/backend.ts for every contract).
#pragma once

#include <array>
#include <utility>

#include "common.h"

namespace wrn {

enum Act { kIdentity = 0, kRelu = 1, kSilu = 2, kGelu = 3 };

int64_t kUpload(const float* data, const dims& shape);
void kRead(int64_t h, const dims& shape, float* out);
int64_t kZeros(const dims& shape);

int64_t kConv2d(int64_t x, const dims& xs, int64_t w, const dims& ws, int stride, int pad, bool inference);
int64_t kConv2dBackwardData(int64_t dy, int64_t w, const dims& ws, const dims& xs, int stride, int pad);
int64_t kConv2dBackwardWeights(int64_t dy, int64_t x, const dims& xs, const dims& ws, int stride, int pad);

std::pair<int64_t, int64_t> kBatchNormTrain(int64_t x, const dims& xs, int64_t gamma, int64_t beta, int64_t rm,
                                            int64_t rv, float momentum, float eps, int act);
int64_t kBatchNormInfer(int64_t x, const dims& xs, int64_t gamma, int64_t beta, int64_t rm, int64_t rv, float eps,
                        int act);
std::array<int64_t, 3> kBatchNormBackward(int64_t dy, int64_t x, const dims& xs, int64_t gamma, int64_t beta,
                                          int64_t saved, float eps, int act);

int64_t kActivation(int act, int64_t x, const dims& shape);
int64_t kActivationBackward(int act, int64_t dy, int64_t x, const dims& shape);
int64_t kDropout(int64_t x, const dims& shape, double p, uint32_t seed);
int64_t kAdd(int64_t a, int64_t b, const dims& shape);
void kAddInPlace(int64_t a, int64_t b, const dims& shape);

int64_t kGlobalAvgPool(int64_t x, const dims& xs);
int64_t kGlobalAvgPoolBackward(int64_t dy, const dims& xs);
std::pair<int64_t, int64_t> kMaxPool2d(int64_t x, const dims& xs, int kernel, int stride, int pad);
int64_t kMaxPool2dBackward(int64_t dy, const dims& xs, int64_t saved);

int64_t kLinear(int64_t x, const dims& xs, int64_t w, const dims& ws, int64_t b);
std::array<int64_t, 3> kLinearBackward(int64_t dy, int64_t x, const dims& xs, int64_t w, const dims& ws, bool hasBias);

std::pair<double, int64_t> kSoftmaxCrossEntropy(int64_t logits, const dims& shape, const int32_t* labels,
                                                double smoothing);

struct SgdOpts {
  float lr, momentum, dampening, weightDecay;
  bool nesterov, firstStep;
};
void kSgdStep(int64_t param, int64_t grad, int64_t buf, const dims& shape, const SgdOpts& o);

/** Test hook: a copy in the activation precision, plain (0) or channel-blocked by 16 (1). */
int64_t kRelayout(int64_t h, int blocked);
/** Test hook: "f32:16b" style description of a storage's layout. */
std::string kDescribeLayout(int64_t h);

/** Convolution algorithm for primitives created from now on: direct, winograd or auto. */
void kSetConvAlgo(const std::string& name);

/** Copies `a` and bumps nothing: a new storage with the same layout and values. */
int64_t kCopy(int64_t a);

}  // namespace wrn
