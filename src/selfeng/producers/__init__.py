"""What appends request events to the log: today ``publish`` for JSON from any client (the
command line's ``selfeng publish`` uses it); the Python client and HTTP API come next.
"""
