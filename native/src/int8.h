// The int8 inference path (post-training static quantization, `wrn quantize`): oneDNN 2.x u8s8
// convolutions with per-output-channel output scales and fused ReLU / residual sum post-ops, plus the
// fp32 passes that feed them. Activations between layers are NHWC: u8 after a ReLU, fp32 on the residual
// stream. The TypeScript side (src/quant/) computes every scale; this side only executes.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "primitives.h"

namespace wrn {

/** True when oneDNN's effective ISA has VNNI (u8*s8 products accumulate in 32 bits without saturating). */
bool cpuHasVnni();

/**
 * One quantized convolution: u8 NHWC source, s8 OIHW weights, f32 bias already divided by the
 * per-channel (input scale x weight scale), per-output-channel output scales. Its destination is u8
 * (with a fused ReLU) or f32 (optionally summed into what the destination holds: the residual add).
 */
struct QConvSpec {
  dims wshape;  // O, I, KH, KW
  std::vector<int8_t> weights;
  std::vector<float> bias;          // O, in accumulator units
  std::vector<float> outputScales;  // O
  int stride = 1, pad = 0;
  bool relu = false;
  bool u8Out = false;  // else f32
  bool sum = false;    // f32 destination: dst = conv + dst
};

class QConv {
 public:
  explicit QConv(QConvSpec spec) : s_(std::move(spec)) {}
  /** Output spatial size for an input of h x w. */
  dims outDims(const dims& src) const;
  /** src: u8 NHWC [N, I, H, W]; dst: NHWC [N, O, OH, OW] of the destination type. */
  void run(const dims& src, const void* x, void* y);
  const QConvSpec& spec() const { return s_; }

 private:
  struct Plan {
    dnnl::convolution_forward prim;
    dnnl::convolution_forward::primitive_desc pd;
    memory weights;  // reordered into pd's layout
    memory bias;
    dims sub;                     // strided 1x1: the subsampled source it runs on at stride 1, else empty
    std::vector<uint8_t> subBuf;  // that source
  };
  Plan& plan(const dims& src);
  QConvSpec s_;
  std::unordered_map<int64_t, std::unique_ptr<Plan>> plans_;  // by batch size (spatial size is fixed per layer)
};

/** An fp32 convolution (the stem, kept in fp32 for accuracy): NCHW f32 source, NHWC f32 destination. */
class FConv {
 public:
  FConv(dims wshape, std::vector<float> weights, int stride, int pad) : wshape_(std::move(wshape)), w_(std::move(weights)), stride_(stride), pad_(pad) {}
  dims outDims(const dims& src) const;
  void run(const dims& src, const float* x, float* y);

 private:
  struct Plan {
    dnnl::convolution_forward prim;
    dnnl::convolution_forward::primitive_desc pd;
    memory weights;
    memory::desc out;  // NHWC
    memory tmp;        // the conv's own layout, when it is not NHWC
    dnnl::reorder toNhwc;
  };
  dims wshape_;
  std::vector<float> w_;
  int stride_, pad_;
  std::unordered_map<int64_t, std::unique_ptr<Plan>> plans_;
};

// ---- elementwise passes over NHWC rows (quantize_int8.cc) ---------------------------------------------
/** y = u8(round(max(0, x * a[c] + b[c]) / scale)): inference BN, ReLU and quantization in one pass. */
void bnReluQuantize(const float* x, int64_t rows, int64_t c, const float* a, const float* b, float scale, uint8_t* y);
/** y[n, c] = mean over H*W of max(0, x * a[c] + b[c]): the head's BN-ReLU and global average pool. */
void bnReluAvgPool(const float* x, int64_t n, int64_t hw, int64_t c, const float* a, const float* b, float* y);
/** y[n, k] = x[n, :] . w[k, :] + bias[k]. */
void linearF32(const float* x, int64_t n, int64_t c, const float* w, const float* bias, int64_t k, float* y);

/** A pre-activation residual block in int8: see Int8Net. */
struct QBlock {
  std::vector<float> bnA, bnB;  // bn1 as y = x * a + b (inference statistics)
  float inScale = 1;            // quantization step of relu(bn1(x))
  std::vector<QConv> convs;     // all but the last: u8 + ReLU out (next BN folded); the last: f32 summed
  std::unique_ptr<QConv> shortcut;  // f32 out, or null for the identity
};

/**
 * A quantized pre-activation network: fp32 stem conv; blocks (bn1-ReLU-quantize pass; u8 convs; the
 * last conv sums into the residual); the head's BN-ReLU-pool and linear in fp32.
 */
class Int8Net : public Obj {
 public:
  std::unique_ptr<FConv> stem;
  std::vector<QBlock> blocks;
  std::vector<float> headA, headB, fcW, fcB;
  int64_t classes = 0;
  /** input: NCHW f32 [N, C, H, W]; logits: [N, classes]. */
  void forward(const dims& in, const float* x, float* logits);
};

}  // namespace wrn
