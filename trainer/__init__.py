"""Training: specs, pipeline building, fitting, evaluation and registration."""
