//! Test brokers for the cluster client: a fake broker for connection setup, a scripted group
//! coordinator for the error paths, and librdkafka's mock cluster set up as the embedded
//! broker is. Compiled for tests only.

pub mod fake_broker;
pub mod fake_coordinator;
pub mod mock_cluster;
pub mod wire;
