{
  "targets": [
    {
      "target_name": "dgm_kernels",
      "sources": ["src/dgm_kernels.c", "src/dgm_math.c", "src/dgm_ops.c", "src/dgm_conv.c"],
      "cflags": ["-O3", "-fno-math-errno", "-Wall", "-Wextra"],
      "cflags_c": ["-std=gnu11"],
      "conditions": [
        ["OS=='linux'", {
          "include_dirs": ["/usr/include/openblas", "/usr/include/x86_64-linux-gnu/openblas-pthread", "/usr/include/aarch64-linux-gnu/openblas-pthread"],
          "libraries": ["-lopenblas", "-lm"]
        }],
        ["OS=='mac'", {
          "include_dirs": ["/opt/homebrew/opt/openblas/include", "/usr/local/opt/openblas/include"],
          "libraries": ["-L/opt/homebrew/opt/openblas/lib", "-L/usr/local/opt/openblas/lib", "-lopenblas"],
          "xcode_settings": { "OTHER_CFLAGS": ["-O3"] }
        }]
      ]
    }
  ]
}
