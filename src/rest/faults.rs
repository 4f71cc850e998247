//! `POST /admin/faults`: fires a fault on the running worker (kconnect's own endpoint).
//!
//! Bodies:
//! - `{"fault": "task-panic" | "task-error", "connector": "c", "task": 0}`
//! - `{"fault": "broker-down"}`, `{"fault": "broker-up"}` (embedded broker only)
//! - `{"fault": "broker-latency", "ms": 200}` (0 removes it; embedded broker only)
//! - `{"fault": "request-errors", "api": "Produce", "errors": ["NOT_ENOUGH_REPLICAS", …]}`: the
//!   next requests of that API fail with those errors, in order (embedded broker only).
//!
//! Every fault is logged at WARN and counted in `kconnect_faults_injected_total`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use kconnect_actors::task::faults::FaultKind;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use serde::Deserialize;
use serde_json::{json, Value};

use super::connectors::parse_body;
use super::{ApiError, ApiResult, RestState};

pub fn routes() -> Router<RestState> {
    Router::new().route("/admin/faults", post(fire))
}

#[derive(Deserialize)]
struct FaultRequest {
    fault: String,
    connector: Option<String>,
    task: Option<u32>,
    ms: Option<u64>,
    api: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
}

fn api_key(name: &str) -> ApiResult<RDKafkaApiKey> {
    Ok(match name {
        "Produce" => RDKafkaApiKey::Produce,
        "Fetch" => RDKafkaApiKey::Fetch,
        "ListOffsets" => RDKafkaApiKey::ListOffsets,
        "Metadata" => RDKafkaApiKey::Metadata,
        "OffsetCommit" => RDKafkaApiKey::OffsetCommit,
        "OffsetFetch" => RDKafkaApiKey::OffsetFetch,
        "FindCoordinator" => RDKafkaApiKey::FindCoordinator,
        "InitProducerId" => RDKafkaApiKey::InitProducerId,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown api {other}; known: Produce, Fetch, ListOffsets, Metadata, OffsetCommit, \
                 OffsetFetch, FindCoordinator, InitProducerId"
            )))
        }
    })
}

fn resp_err(name: &str) -> ApiResult<RDKafkaRespErr> {
    use RDKafkaRespErr::*;
    Ok(match name {
        "NOT_ENOUGH_REPLICAS" => RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        "NOT_LEADER_OR_FOLLOWER" | "NOT_LEADER_FOR_PARTITION" => {
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION
        }
        "LEADER_NOT_AVAILABLE" => RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
        "REQUEST_TIMED_OUT" => RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        "COORDINATOR_NOT_AVAILABLE" => RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        "NOT_COORDINATOR" => RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        "UNKNOWN_TOPIC_OR_PART" | "UNKNOWN_TOPIC_OR_PARTITION" => {
            RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
        }
        "KAFKA_STORAGE_ERROR" => RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown error {other}; known: NOT_ENOUGH_REPLICAS, NOT_LEADER_OR_FOLLOWER, \
                 LEADER_NOT_AVAILABLE, REQUEST_TIMED_OUT, COORDINATOR_NOT_AVAILABLE, \
                 NOT_COORDINATOR, UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR"
            )))
        }
    })
}

fn count(fault: &str) {
    metrics::counter!(kconnect_actors::metrics::FAULTS,
        "connector" => "", "task" => "", "fault" => fault.to_string())
    .increment(1);
}

async fn fire(State(s): State<RestState>, body: Bytes) -> ApiResult<Json<Value>> {
    let req: FaultRequest = parse_body(&body)?;
    let task_fault = |kind| async move {
        let (Some(c), Some(t)) = (req.connector.as_deref(), req.task) else {
            return Err(ApiError::bad_request(
                "task faults need \"connector\" and \"task\"",
            ));
        };
        Ok(s.herder.inject_task_fault(c, t, kind).await?)
    };
    let broker = || {
        s.broker.clone().ok_or_else(|| {
            ApiError::bad_request(
                "broker faults need the embedded broker (bootstrap.servers=embedded)",
            )
        })
    };
    let broker_err = |e: crate::embedded_broker::EmbeddedBrokerError| {
        ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    };
    match req.fault.as_str() {
        "task-panic" => task_fault(FaultKind::Panic).await?,
        "task-error" => task_fault(FaultKind::Error).await?,
        "broker-down" => {
            tracing::warn!("injecting a fault: embedded broker down");
            broker()?.broker_down().map_err(broker_err)?;
            count("broker-down");
        }
        "broker-up" => {
            tracing::warn!("fault injection: embedded broker up again");
            broker()?.broker_up().map_err(broker_err)?;
            count("broker-up");
        }
        "broker-latency" => {
            let ms = req.ms.unwrap_or(0);
            tracing::warn!(ms, "injecting a fault: broker latency");
            broker()?
                .set_latency(Duration::from_millis(ms))
                .map_err(broker_err)?;
            count("broker-latency");
        }
        "request-errors" => {
            let api = api_key(req.api.as_deref().unwrap_or(""))?;
            let errors = req
                .errors
                .iter()
                .map(|e| resp_err(e))
                .collect::<ApiResult<Vec<_>>>()?;
            tracing::warn!(api = ?req.api, errors = ?req.errors, "injecting a fault: request errors");
            broker()?
                .push_request_errors(api, errors)
                .map_err(broker_err)?;
            count("request-errors");
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown fault {other}; known: task-panic, task-error, broker-down, broker-up, \
                 broker-latency, request-errors"
            )))
        }
    }
    Ok(Json(json!({"fault": req.fault, "injected": true})))
}
