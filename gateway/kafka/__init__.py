"""Everything that talks to Kafka: the local development broker, topics, client factories."""
