"""Fuzzing both GraphQL endpoints with hypothesis-graphql against the services as real processes."""
