"""Training: losses, readers for JSONL datasets, and multi-label PPO. Uses the model's public API."""
