"""edgekit.model"""
