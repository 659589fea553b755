"""The model server (ASGI), its protocols, the prediction log, deployments and packaging."""
