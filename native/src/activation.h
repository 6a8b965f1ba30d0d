// Activations on oneDNN eltwise primitives, also used by batch norm for the activations it cannot fuse.
#pragma once

#include "primitives.h"

namespace wrn {

/** Activation codes, as src/backend/native/index.ts sends them. */
enum Act { kIdentity = 0, kRelu = 1, kSilu = 2, kGelu = 3 };

/** act(x), in x's layout and data type. */
std::unique_ptr<Buf> eltFwd(int act, Buf& x);
/** dy * act'(x), in x's layout and data type. */
std::unique_ptr<Buf> eltBwd(int act, Buf& dy, Buf& x);

}  // namespace wrn
