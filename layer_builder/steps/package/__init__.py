"""Step 2, package: the installed tree to ``layer.zip`` (slimming, bytecode, smoke test,
size report)."""
