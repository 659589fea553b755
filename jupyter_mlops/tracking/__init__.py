"""Experiments and runs, stored in MLflow."""
