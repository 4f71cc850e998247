//! Distributed mode: workers that form a group through Kafka and share connector configs,
//! offsets and statuses through Connect's three internal topics.
//!
//! - [`config`]: the distributed worker keys.
//! - [`herder`]: `DistributedHerder`, the actor that owns the cluster view (config snapshot,
//!   this worker's assignment) and tells the local [`Worker`](crate::Worker) what to run.
//! - [`member`]: the group handler: member metadata, the leader's assignment, and assignments
//!   turned into herder messages.
//! - [`status_writer`]: statuses set on this worker, written to the status topic off the actors'
//!   threads.

pub mod config;
pub mod herder;
pub mod member;
pub mod status_writer;

pub use herder::{ClusterView, DistributedHerder, HerderMsg, Membership};
