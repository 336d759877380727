"""edgekit.firmware: target/board definitions (targets), firmware build (build), stub model twin."""
