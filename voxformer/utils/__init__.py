"""voxformer.utils: small helpers shared by several packages (kept free of heavy imports)."""
