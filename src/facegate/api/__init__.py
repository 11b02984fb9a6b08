"""The gate service: a FastAPI app over the gallery (REST API, API keys, access events) and its web page."""

from facegate.api.app import Settings, create_app

__all__ = ["Settings", "create_app"]
