"""The commands of ``python -m fastconv`` and what only they need.

bench, profile, check and train, the layer suite they share, the benchmark
peers and the machine description. The engine never imports this package.
"""
