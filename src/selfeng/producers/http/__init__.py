"""The HTTP API and live dashboard (``selfeng serve``; ``pip install 'selfeng[http]'``).

``selfeng.producers.http.app.create_app`` builds the FastAPI app over a ``Service`` (an open
``Selfeng`` and how requests get answered). This package's ``tokens`` module (bearer tokens
as events) needs no web framework, so ``selfeng token`` works without the extra.
"""
