//! librdkafka's mock cluster (the embedded broker's engine) as a group coordinator for tests,
//! set up as the embedded broker sets it up.

use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use rdkafka::ClientConfig;

/// A one-broker mock cluster on a thread of its own (its handle is not Send); it stops when
/// this is dropped.
pub struct MockBroker {
    pub bootstrap: String,
    _stop: std::sync::mpsc::Sender<()>,
}

impl MockBroker {
    pub fn start() -> Self {
        Self::with_errors(&[])
    }

    /// A mock whose first requests of the given APIs fail with the given errors, in order.
    pub fn with_errors(errors: &[(RDKafkaApiKey, Vec<RDKafkaRespErr>)]) -> Self {
        let errors = errors.to_vec();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            // A client configured with test.mock.num.brokers owns its mock cluster, reachable
            // both through the safe API and as the raw handle that the rebalance delay needs.
            let producer: BaseProducer = ClientConfig::new()
                .set("test.mock.num.brokers", "1")
                .create()
                .expect("mock cluster");
            let mock = producer.client().mock_cluster().expect("a mock cluster");
            // rdkafka's MockCluster has no call for the group's initial rebalance delay.
            // SAFETY: the handle belongs to `producer`, which outlives this call.
            unsafe {
                let raw =
                    rdkafka::bindings::rd_kafka_handle_mock_cluster(producer.client().native_ptr());
                assert!(!raw.is_null());
                rdkafka::bindings::rd_kafka_mock_group_initial_rebalance_delay_ms(raw, 1000);
            }
            // As the embedded broker does: the mock advertises JoinGroup v6, SyncGroup v4 and
            // LeaveGroup v3+ but parses them with the older layouts.
            for (key, max) in [
                (RDKafkaApiKey::JoinGroup, 5),
                (RDKafkaApiKey::SyncGroup, 3),
                (RDKafkaApiKey::LeaveGroup, 2),
            ] {
                mock.apiversion(key, Some(0), Some(max))
                    .expect("a version the mock implements");
            }
            for (key, codes) in &errors {
                mock.request_errors(*key, codes);
            }
            ready_tx
                .send(mock.bootstrap_servers())
                .expect("test waits for the mock");
            let _ = stop_rx.recv();
            drop(mock);
            drop(producer);
        });
        let bootstrap = ready_rx.recv().expect("mock cluster started");
        MockBroker {
            bootstrap,
            _stop: stop_tx,
        }
    }
}
