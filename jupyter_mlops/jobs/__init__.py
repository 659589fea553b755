"""Training jobs: papermill runs parameterised notebooks as tracked jobs, with gates."""
