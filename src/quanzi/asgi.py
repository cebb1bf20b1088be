"""ASGI entry point for the server: `granian --interface asgi quanzi.asgi:app`."""

from quanzi.app import create_app

app = create_app()
