"""LLM adapters: any OpenAI-compatible endpoint through the ``openai`` client."""
