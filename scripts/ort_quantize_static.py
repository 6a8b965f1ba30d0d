"""onnxruntime's own post-training static quantization, for scripts/bench-int8-vs-onnxruntime.ts.

Usage: PYTHON scripts/ort_quantize_static.py FP32.onnx CALIB.f32 N,C,H,W OUT.onnx
CALIB.f32 holds the calibration images (raw little-endian float32, N*C*H*W values), the same ones our
`wrn quantize` calibrated on. QDQ format, u8 activations, s8 per-channel weights (onnxruntime's
recommended CPU settings), MinMax calibration, fed 16 images at a time.
"""
import sys

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

src, calib, shape, out = sys.argv[1], sys.argv[2], [int(v) for v in sys.argv[3].split(',')], sys.argv[4]
images = np.fromfile(calib, dtype='<f4').reshape(shape)


class Reader(CalibrationDataReader):
    def __init__(self):
        self.batches = iter([images[i:i + 16] for i in range(0, len(images), 16)])

    def get_next(self):
        b = next(self.batches, None)
        return None if b is None else {'input': b}


quantize_static(src, out, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, per_channel=True, calibrate_method=CalibrationMethod.MinMax)
print(out)
