{
  "targets": [
    {
      "target_name": "wrn_native",
      "sources": ["native/src/addon.cc", "native/src/kernels.cc", "native/src/pool.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=x86-64-v3", "-fopenmp", "-fexceptions", "-frtti", "-Wall", "-Wno-unused-parameter"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
