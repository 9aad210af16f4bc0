"""Sandbox adapters: ``subprocess://``, ``bwrap://``, ``docker://`` and ``auto://`` (the
strongest that works here), all running ``worker`` and ``call`` inside."""
