"""Connection: the Kafka client, listeners and their supervision."""
