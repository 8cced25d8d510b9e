"""Joins drivers to the queue: one runner per machine of this node, and a pure scheduler."""
