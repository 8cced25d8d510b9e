"""Business logic shared by the API, the web UI and the CLI. Keyword-only functions."""
