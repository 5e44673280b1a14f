"""Experiment tracking in MLflow (`pip install -e ".[track]"`, then `tracking.enabled` or
`--track`): what a run directory holds (`records`) logged to a tracking store (`mlflow_log`).
Nothing here is imported unless tracking is asked for."""
