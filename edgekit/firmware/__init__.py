"""edgekit.firmware"""
