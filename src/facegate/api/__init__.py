"""The gate service: a FastAPI app over the gallery (REST API, API keys, access events) and its web page.

`facegate.api.app.create_app` builds it; nothing is imported here, so the CLI starts without loading FastAPI.
"""
