{
  "targets": [
    {
      "target_name": "wrn_native",
      "sources": [
        "native/src/addon.cc",
        "native/src/allocator.cc",
        "native/src/layout.cc",
        "native/src/device.cc",
        "native/src/tensor.cc",
        "native/src/conv2d.cc",
        "native/src/conv2d_weights.cc",
        "native/src/batchnorm.cc",
        "native/src/activation.cc",
        "native/src/elementwise.cc",
        "native/src/dropout.cc",
        "native/src/pooling.cc",
        "native/src/linear.cc",
        "native/src/loss.cc",
        "native/src/sgd.cc",
        "native/src/conv2d_int8.cc",
        "native/src/quantize_int8.cc",
        "native/src/int8_net.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-fexceptions", "-frtti", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
