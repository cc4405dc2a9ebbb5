"""The shared, thin bus layer: embedded broker, producer, supervised consumers, dead letters, outbox."""
