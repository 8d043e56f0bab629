"""Value objects that cross step boundaries: manifest, target, layouts, fingerprint,
installed distributions."""
