"""Graders: rule-based graders and an LLM judge over any OpenAI-compatible endpoint."""
