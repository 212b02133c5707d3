{
  "targets": [
    {
      "target_name": "ccrun_native",
      "sources": ["native/addon/addon.cc", "native/common/sealed-copy.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall"],
      "libraries": []
    },
    {
      "target_name": "ccrun_mapfile",
      "sources": ["native/mapfile/mapfile.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra"]
    },
    {
      "target_name": "ccrun-init",
      "type": "executable",
      "sources": [
        "native/init/main.c", "native/init/plan.c", "native/init/io.c", "native/init/rootfs.c", "native/init/process.c",
        "native/init/seccomp.c", "native/init/hooks.c", "native/init/lsm.c",
        "native/init/sealed.c", "native/init/monitor.c", "native/common/sealed-copy.c"
      ],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-D_GNU_SOURCE"],
      "libraries": ["-lseccomp"]
    },
    {
      "target_name": "ccrun-reaper",
      "type": "executable",
      "sources": ["native/reaper/reaper.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra"],
      "ldflags": ["-static"]
    }
  ]
}
