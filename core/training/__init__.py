"""The method registry, each method's loss terms, and the batched trainers."""
