"""Thin adapters between the domain and the outside world: Kafka, MongoDB, HTTP."""
