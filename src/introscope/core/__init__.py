"""The engine core: load a model, find its decoder layers, read and write its residual
stream in batches. Torch only: nothing here imports pandas, duckdb or the experiments."""
