"""talkrate's benchmarks: `python -m bench` (make bench) and `python -m bench --quick` (make bench-quick).

Each part measures against the real backends on loopback and prints figures beside their floor or
target; nothing here fails on speed.
"""
