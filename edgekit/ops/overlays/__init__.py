"""Kernel overlays: one package per kernel set, one module per op it speeds up (see ../README.md)."""
