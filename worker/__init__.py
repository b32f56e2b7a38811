"""RQ job functions (batch prediction chunks, training runs) and the worker entry point."""
