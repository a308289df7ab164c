"""Fault injection, fuzzing and security tests: how the integration rides through trouble."""
