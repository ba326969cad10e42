"""The event bus: envelopes, topology, outbox relay and idempotent consumers."""
