//! kconnect's own Kafka group-membership client for the "connect" protocol: librdkafka only
//! offers the consumer group protocol, so the classic group protocol is spoken here directly.
//!
//! ```text
//! security.rs  SecurityConfig from Java-client-style keys; rustls client config
//! scram.rs     SCRAM-SHA-256/512 client state machine
//! conn.rs      one broker connection: TLS, SASL, ApiVersions, framed requests
//! probe.rs     a start-up login that names the setting when credentials are refused
//! group.rs     the member loop: find coordinator, join, sync, heartbeat, leave
//! protocol.rs  Connect member metadata and assignments (v0/v1/v2), byte-exact
//! assignor.rs  the leader's incremental cooperative assignor (KIP-415)
//! testing/     test brokers: fake broker, scripted coordinator, mock cluster (tests only)
//! ```

pub mod assignor;
pub mod conn;
pub mod group;
pub mod probe;
pub mod protocol;
pub mod scram;
pub mod security;
#[cfg(test)]
mod testing;
