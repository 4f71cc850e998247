//! Finds plugins by Kafka class name or short alias.
