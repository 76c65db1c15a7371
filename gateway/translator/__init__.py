"""The translator: kp.inbound (raw XML) -> kp.events (canonical Avro), failures -> kp.dlq."""
