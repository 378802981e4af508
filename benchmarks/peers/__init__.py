"""Reference implementations ("peers") of our three models in Keras 3 and in PyTorch, and `bench.py
--peers`, which times them beside ours. Benchmarks only, not part of the scripts.

A speed beside ours means something only if each peer is what a good engineer in its framework would
write, and if it trains the same networks: each peer reports its networks' trainable parameters and
forward FLOPs per image, counted by one rule (harness.conv_flops), and ours.py counts ours the same way.
Each peer runs in a process of its own (Keras 3 needs the eager execution our process turns off, and
neither framework should share a process with another one's thread pools).
"""
