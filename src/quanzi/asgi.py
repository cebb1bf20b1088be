"""ASGI entry point for the server: `granian --interface asgi quanzi.asgi:app`."""

import gc

from quanzi.app import create_app

app = create_app()

# Everything built at start-up (modules, models, routes, templates) lives as long as the server process:
# keep it out of the garbage collector's full passes, which would otherwise walk it again and again.
# Here and not in create_app: tests build many apps in one process and must not pin them in memory.
gc.collect()
gc.freeze()
