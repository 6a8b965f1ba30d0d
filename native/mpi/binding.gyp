{
  "targets": [
    {
      "target_name": "wrn_mpi",
      "sources": ["comm.cc", "addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(mpicxx --showme:incdirs)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED", "OMPI_SKIP_MPICXX=1"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-Wall", "-Wno-unused-parameter", "-pthread"],
      "libraries": ["<!@(mpicxx --showme:link)", "-pthread", "-ldl"]
    }
  ]
}
