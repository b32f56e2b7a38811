"""Other servers' protocols over the same core: Open Inference Protocol (V2), MLflow, SageMaker."""
