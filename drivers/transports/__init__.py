"""Byte transports under the protocol drivers (serial lines, pseudo-terminals)."""
