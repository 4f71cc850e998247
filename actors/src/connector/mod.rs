//! One supervisor per connector ([`supervisor::ConnectorSupervisor`]) with the connector
//! instance ([`actor::ConnectorActor`]) and the connector's task actors beneath it.

pub mod actor;
pub mod supervisor;
