// Convolutions of the int8 inference path: u8s8 convolutions with output scales and post-ops (oneDNN 2.x
// attribute API: primitive_attr::set_output_scales, post_ops sum / eltwise_relu), and the fp32 stem.
// Primitives and reordered weights are cached per input shape.
#include <omp.h>

#include <cstring>

#include "int8.h"

namespace wrn {

using namespace dnnl;

namespace {

std::string shapeKey(const dims& d) {
  std::string s;
  for (auto v : d) s += std::to_string(v) + "x";
  return s;
}

int64_t keyOf(const dims& d) { return int64_t(std::hash<std::string>()(shapeKey(d))); }

dims convOut(const dims& src, const dims& w, int stride, int pad) {
  if (src.size() != 4 || src[1] != w[1]) {
    fail("int8 convolution: input " + shapeKey(src) + " does not match weights " + shapeKey(w));
  }
  int64_t oh = (src[2] + 2 * pad - w[2]) / stride + 1;
  int64_t ow = (src[3] + 2 * pad - w[3]) / stride + 1;
  if (oh < 1 || ow < 1) fail("int8 convolution: input " + shapeKey(src) + " is smaller than the kernel");
  return {src[0], w[0], oh, ow};
}

void execute(const primitive& p, const memory::desc& scratch, std::unordered_map<int, memory> args) {
  args.insert({DNNL_ARG_SCRATCHPAD, scratchpadFor(scratch)});
  p.execute(strm(), args);
}

// A strided 1x1 convolution reads every stride-th pixel. oneDNN 2.6's AVX2 u8s8 1x1 kernel gathers
// those pixels itself ("rtus") into a per-thread buffer, and with NHWC sources whose channel count is not
// a multiple of its block and more than one thread it returns wrong outputs at random (a 24->48
// stride-2 shortcut went wrong in about one run in three). Gathering them here and running the
// convolution at stride 1 sidesteps that path; the gather is one memcpy per output pixel.
bool gathersItself(const dims& w, int stride, int pad) { return w[2] == 1 && w[3] == 1 && pad == 0 && stride > 1; }

void subsample(const dims& src, const uint8_t* x, int stride, const dims& sub, uint8_t* y) {
  const int64_t n = src[0], c = src[1], h = src[2], w = src[3], oh = sub[2], ow = sub[3];
#pragma omp parallel for collapse(2)
  for (int64_t i = 0; i < n; i++) {
    for (int64_t oy = 0; oy < oh; oy++) {
      const uint8_t* row = x + ((i * h + oy * stride) * w) * c;
      uint8_t* out = y + ((i * oh + oy) * ow) * c;
      for (int64_t ox = 0; ox < ow; ox++) std::memcpy(out + ox * c, row + ox * stride * c, size_t(c));
    }
  }
}

}  // namespace

bool cpuHasVnni() {
  switch (get_effective_cpu_isa()) {
    case cpu_isa::avx2_vnni:
    case cpu_isa::avx512_core_vnni:
    case cpu_isa::avx512_core_bf16:
    case cpu_isa::avx512_core_amx: return true;
    default: return false;
  }
}

dims QConv::outDims(const dims& src) const { return convOut(src, s_.wshape, s_.stride, s_.pad); }

QConv::Plan& QConv::plan(const dims& src) {
  const int64_t key = keyOf(src);
  auto it = plans_.find(key);
  if (it != plans_.end()) return *it->second;
  const dims dst = outDims(src);
  const int64_t o = s_.wshape[0];
  const bool gather = gathersItself(s_.wshape, s_.stride, s_.pad);
  const dims convSrc = gather ? dims{src[0], src[1], dst[2], dst[3]} : src;
  const int stride = gather ? 1 : s_.stride;
  memory::desc smd(convSrc, dt::u8, tag::nhwc);
  memory::desc wmd(s_.wshape, dt::s8, tag::any);
  memory::desc bmd({o}, dt::f32, tag::x);
  memory::desc dmd(dst, s_.u8Out ? dt::u8 : dt::f32, tag::nhwc);
  convolution_forward::desc d(prop_kind::forward_inference, algorithm::convolution_direct, smd, wmd, bmd, dmd,
                              {stride, stride}, {s_.pad, s_.pad}, {s_.pad, s_.pad});
  primitive_attr attr = defaultAttr();
  attr.set_output_scales(1 << 1, s_.outputScales);  // mask bit 1: one scale per output channel
  post_ops po;
  // oneDNN 2.x: dst = relu(output_scale * (acc + bias) + sum_scale * dst_old), in post-op order.
  if (s_.sum) po.append_sum(1.0f);
  if (s_.relu) po.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
  attr.set_post_ops(po);
  auto p = std::make_unique<Plan>();
  p->pd = convolution_forward::primitive_desc(d, attr, eng());
  p->prim = convolution_forward(p->pd);
  p->weights = memory(p->pd.weights_desc(), eng());
  memory plainW(memory::desc(s_.wshape, dt::s8, tag::oihw), eng(), s_.weights.data());
  reorder(plainW, p->weights).execute(strm(), plainW, p->weights);
  p->bias = memory(bmd, eng(), s_.bias.data());
  if (gather) {
    p->sub = convSrc;
    p->subBuf.resize(size_t(convSrc[0] * convSrc[1] * convSrc[2] * convSrc[3]));
  }
  strm().wait();
  return *plans_.emplace(key, std::move(p)).first->second;
}

void QConv::run(const dims& src, const void* x, void* y) {
  Plan& p = plan(src);
  if (!p.sub.empty()) {
    subsample(src, static_cast<const uint8_t*>(x), s_.stride, p.sub, p.subBuf.data());
    x = p.subBuf.data();
  }
  memory sm(p.pd.src_desc(), eng(), const_cast<void*>(x));
  memory dm(p.pd.dst_desc(), eng(), y);
  execute(p.prim, p.pd.scratchpad_desc(),
          {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, p.weights}, {DNNL_ARG_BIAS, p.bias}, {DNNL_ARG_DST, dm}});
}

dims FConv::outDims(const dims& src) const { return convOut(src, wshape_, stride_, pad_); }

void FConv::run(const dims& src, const float* x, float* y) {
  const int64_t key = keyOf(src);
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    memory::desc smd(src, dt::f32, tag::nchw);
    memory::desc wmd(wshape_, dt::f32, tag::any);
    // dst `any`: oneDNN has no jit kernel from NCHW to NHWC (it would pick the slow reference one), so the
    // conv writes its own blocked layout and a reorder makes it NHWC.
    memory::desc dmd(outDims(src), dt::f32, tag::any);
    convolution_forward::desc d(prop_kind::forward_inference, algorithm::convolution_direct, smd, wmd, dmd,
                                {stride_, stride_}, {pad_, pad_}, {pad_, pad_});
    auto p = std::make_unique<Plan>();
    p->pd = convolution_forward::primitive_desc(d, defaultAttr(), eng());
    p->prim = convolution_forward(p->pd);
    p->weights = memory(p->pd.weights_desc(), eng());
    memory plainW(memory::desc(wshape_, dt::f32, tag::oihw), eng(), w_.data());
    reorder(plainW, p->weights).execute(strm(), plainW, p->weights);
    p->out = memory::desc(outDims(src), dt::f32, tag::nhwc);
    if (p->pd.dst_desc() != p->out) {
      p->tmp = memory(p->pd.dst_desc(), eng());
      p->toNhwc = reorder(p->tmp, memory(p->out, eng(), nullptr));
    }
    strm().wait();
    it = plans_.emplace(key, std::move(p)).first;
  }
  Plan& p = *it->second;
  memory sm(p.pd.src_desc(), eng(), const_cast<float*>(x));
  memory ym(p.out, eng(), y);
  if (!p.tmp) {
    execute(p.prim, p.pd.scratchpad_desc(), {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, p.weights}, {DNNL_ARG_DST, ym}});
    return;
  }
  execute(p.prim, p.pd.scratchpad_desc(), {{DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, p.weights}, {DNNL_ARG_DST, p.tmp}});
  p.toNhwc.execute(strm(), p.tmp, ym);
}

}  // namespace wrn
