"""Weight lineage: stream two safetensors models tensor by tensor and characterize how they differ."""
