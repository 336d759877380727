"""The worked example of an overlay (see edgekit/ops/README.md): exercises call_extern, C headers, transformed
constants and arena scratch. Not the default of any target; select it with kernels="example"."""
