"""edgekit.compiler"""
