"""The Lambda side of the emulator: execution environments (pool, worker, protocol), hot reload,
the functions' environment, and the Lambda Invoke API.

Kept free of imports: every function process loads this package.
"""
