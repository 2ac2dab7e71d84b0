"""The product catalog's domain: commands, events and the decider. Pure: no I/O, no frameworks."""
