"""edgekit.harness"""
