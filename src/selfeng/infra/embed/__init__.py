"""Embedders: ``lexical`` (in process, no model), ``minilm`` and ``openai:<model>``."""
