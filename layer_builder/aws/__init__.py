"""AWS plumbing: clients and error wrapping, the embedded local endpoint, CodeArtifact."""
