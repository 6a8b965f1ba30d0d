// Mean softmax cross-entropy with label smoothing and its gradient, in double precision, one row
// after another (a fixed order: the loss is the same bits on every run).
#include <cmath>

#include "napi_args.h"

namespace wrn {
namespace {

std::pair<double, int64_t> softmaxCrossEntropy(int64_t lh, const dims& shape, const int32_t* labels, double smoothing) {
  if (shape.size() != 2) fail("native softmaxCrossEntropy: expected [N,K] logits");
  const int64_t n = shape[0], k = shape[1];
  Buf& l0 = live(lh);
  std::unique_ptr<Buf> tl;
  const float* logits = static_cast<const float*>(ensure(l0, plainDesc(shape, dt::f32), tl).ptr);
  auto d = newBuf(plainDesc(shape, dt::f32));
  float* g = static_cast<float*>(d->ptr);
  double total = 0;
  const double off = smoothing / double(k), on = 1.0 - smoothing + off;
  for (int64_t i = 0; i < n; i++) {
    const float* row = logits + i * k;
    float* grow = g + i * k;
    double mx = row[0];
    for (int64_t j = 1; j < k; j++) mx = std::max(mx, double(row[j]));
    double sum = 0;
    for (int64_t j = 0; j < k; j++) sum += std::exp(double(row[j]) - mx);
    double lse = mx + std::log(sum);
    int32_t y = labels[i];
    if (y < 0 || y >= k) fail("native softmaxCrossEntropy: label " + std::to_string(y) + " outside [0, " + std::to_string(k) + ")");
    double li = 0;
    for (int64_t j = 0; j < k; j++) {
      double t = j == y ? on : off;
      double logp = double(row[j]) - lse;
      li -= t * logp;
      grow[j] = float((std::exp(logp) - t) / double(n));
    }
    total += li;
  }
  return {total / double(n), reg(std::move(d))};
}

}  // namespace

namespace api {

// softmaxCrossEntropy(logits, shape, labels, smoothing) -> [loss, dlogits]
Napi::Value softmaxCrossEntropy(const Info& info) {
  auto labels = info[2].As<Napi::Int32Array>();
  dims s = dimsArg(info[1]);
  if (s.size() != 2 || int64_t(labels.ElementLength()) != s[0]) {
    throw Napi::RangeError::New(info.Env(), "native softmaxCrossEntropy: one label per row expected");
  }
  auto r = wrn::softmaxCrossEntropy(handleArg(info[0]), s, labels.Data(), numArg(info[3]));
  return numbersOut(info.Env(), {r.first, double(r.second)});
}

}  // namespace api
}  // namespace wrn
