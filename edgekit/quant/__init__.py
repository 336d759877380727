"""edgekit.quant"""
