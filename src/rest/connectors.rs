//! `/connectors` endpoints (Connect's ConnectorsResource).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use kconnect_actors::herder::ConfigPatch;
use kconnect_actors::offsets::ConnectorOffset;
use kconnect_actors::status::{ConnectorStatus, State as TaskState};
use kconnect_actors::TargetState;
use kconnect_connectors::api::Props;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::bodies::{connector_info, connector_status, task_status};
use super::{ApiError, ApiResult, RestState};
use kconnect_actors::distributed::signature::{
    RequestSignature, ALGORITHM_HEADER, SIGNATURE_HEADER,
};

pub fn routes() -> Router<RestState> {
    Router::new()
        .route("/connectors", get(list).post(create))
        .route("/connectors/{c}", get(info).delete(delete))
        .route(
            "/connectors/{c}/config",
            get(config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{c}/status", get(status))
        .route(
            "/connectors/{c}/tasks",
            get(tasks).put(put_tasks).post(put_tasks),
        )
        .route("/connectors/{c}/tasks-config", get(tasks_config))
        .route("/connectors/{c}/tasks/{t}/status", get(one_task_status))
        .route("/connectors/{c}/restart", axum::routing::post(restart))
        .route("/connectors/{c}/pause", put(pause))
        .route("/connectors/{c}/resume", put(resume))
        .route("/connectors/{c}/stop", put(stop))
        .route(
            "/connectors/{c}/offsets",
            get(offsets).patch(alter_offsets).delete(reset_offsets),
        )
        .route("/connectors/{c}/topics", get(topics))
        .route("/connectors/{c}/fence", put(fence))
}

/// Parses a JSON body, answering 400 with the parser's message when it is not valid.
pub fn parse_body<T: DeserializeOwned>(body: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))
}

/// Query parameters, repeated keys kept (`?expand=status&expand=info`).
fn query(raw: Option<String>) -> Vec<(String, String)> {
    raw.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}

fn flag(q: &[(String, String)], key: &str) -> bool {
    q.iter()
        .any(|(k, v)| k == key && v.eq_ignore_ascii_case("true"))
}

/// A config map from JSON: strings as they are, other scalars printed; null values are dropped.
fn props_of(config: Map<String, Value>) -> ApiResult<Props> {
    let mut out = Props::new();
    for (k, v) in config {
        let s = match v {
            Value::String(s) => s,
            Value::Null => continue,
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                return Err(ApiError::bad_request(format!(
                    "Invalid value for configuration {k}: expected a string, got {other}"
                )))
            }
        };
        out.insert(k, s);
    }
    Ok(out)
}

async fn info_of(s: &RestState, name: &str) -> ApiResult<Value> {
    let e = s.herder.connector(name).await?;
    let tasks = s.herder.task_configs(name).await?.len();
    Ok(connector_info(name, &e.props, tasks, e.kind.as_str()))
}

async fn status_of(s: &RestState, name: &str) -> ApiResult<Value> {
    let st = s
        .herder
        .status(name)
        .await
        .ok_or_else(|| ApiError::not_found(format!("No status found for connector {name}")))?;
    Ok(connector_status(&with_broker_problem(s, st)))
}

/// A status as this worker sees it: while its brokers are unreachable, its running tasks carry
/// that as their trace (they keep retrying, so they stay RUNNING, but they move nothing).
fn with_broker_problem(s: &RestState, mut st: ConnectorStatus) -> ConnectorStatus {
    let ctx = s.herder.context();
    if let Some(problem) = ctx.broker_health.problem() {
        for t in st.tasks.values_mut() {
            if t.worker_id == ctx.worker_id && t.state == TaskState::Running && t.trace.is_none() {
                t.trace = Some(problem.clone());
            }
        }
    }
    st
}

async fn list(State(s): State<RestState>, RawQuery(raw): RawQuery) -> ApiResult<Json<Value>> {
    let q = query(raw);
    let expand: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v.as_str())
        .collect();
    let names = s.herder.connectors().await;
    if expand.is_empty() {
        return Ok(Json(json!(names)));
    }
    let mut out = Map::new();
    'connectors: for name in names {
        let mut m = Map::new();
        for what in &expand {
            let v = match *what {
                "status" => status_of(&s, &name).await,
                "info" => info_of(&s, &name).await,
                _ => continue, // Connect ignores unknown expansions too.
            };
            // As Connect: a connector with no status yet, or deleted while the list is built,
            // is left out rather than shown half.
            let Ok(v) = v else { continue 'connectors };
            m.insert((*what).to_string(), v);
        }
        out.insert(name, Value::Object(m));
    }
    Ok(Json(Value::Object(out)))
}

#[derive(Deserialize)]
struct CreateRequest {
    name: Option<String>,
    config: Option<Map<String, Value>>,
    initial_state: Option<String>,
}

/// A connector name as Connect uses it: trimmed as Java's `String.trim` trims, every character
/// up to U+0020 at either end.
fn trim_name(name: &str) -> &str {
    name.trim_matches(|c: char| c <= ' ')
}

/// Puts the connector's name into its config, as Connect's `checkAndPutConnectorConfigName`:
/// a `name` already in the config must be the name the request gives (Connect's message).
/// Deviation: Connect compares the config's `name` untrimmed and refuses `" x "` for `x`; both
/// are trimmed here, since the stored name is the trimmed one either way.
fn put_name(name: &str, config: &mut Props) -> ApiResult<()> {
    if let Some(included) = config.get(kconnect_actors::config::NAME) {
        if trim_name(included) != name {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({included}) doesn't match connector name in the URL ({name})"
            )));
        }
    }
    config.insert(kconnect_actors::config::NAME.into(), name.to_string());
    Ok(())
}

async fn create(State(s): State<RestState>, body: Bytes) -> ApiResult<Response> {
    let req: CreateRequest = parse_body(&body)?;
    let mut config = props_of(req.config.unwrap_or_default())?;
    // As Connect: the top-level name, trimmed, is the connector's; a config `name` alone is
    // compared with "" and refused.
    let name = trim_name(req.name.as_deref().unwrap_or_default()).to_string();
    put_name(&name, &mut config)?;
    if name.is_empty() {
        return Err(ApiError::bad_request("Connector name must be specified"));
    }
    let target = match req
        .initial_state
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("RUNNING") => TargetState::Started,
        Some("PAUSED") => TargetState::Paused,
        Some("STOPPED") => TargetState::Stopped,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid initial state {other}; must be one of RUNNING, PAUSED, STOPPED"
            )))
        }
    };
    let name = s.herder.create_connector(config, target).await?;
    Ok(created(&name, info_of(&s, &name).await?))
}

/// `/connectors/{name}`, the name percent-encoded as one path segment
/// ([`kconnect_actors::rest_url`]).
fn connector_path(name: &str) -> String {
    kconnect_actors::rest_url::under("http://localhost", &["connectors", name])
        .expect("an http base URL takes path segments")
        .path()
        .to_string()
}

/// 201 with the connector's info and, as Connect, where it now is in `Location`.
fn created(name: &str, info: Value) -> Response {
    let location = connector_path(name);
    (
        StatusCode::CREATED,
        [(axum::http::header::LOCATION, location)],
        Json(info),
    )
        .into_response()
}

async fn info(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(info_of(&s, &c).await?))
}

async fn delete(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<StatusCode> {
    s.herder.delete_connector(&c).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn config(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<Json<Props>> {
    Ok(Json(s.herder.connector(&c).await?.props))
}

async fn put_config(
    State(s): State<RestState>,
    Path(c): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let mut config = props_of(parse_body(&body)?)?;
    // Deviation: Connect uses the URL's name untrimmed here, and would store `" x "` as a
    // connector whose config parses to `x`; kconnect trims it, as on creation.
    let name = trim_name(&c);
    put_name(name, &mut config)?;
    let was_created = s.herder.put_config(name, config).await?;
    let info = info_of(&s, name).await?;
    Ok(if was_created {
        created(name, info)
    } else {
        Json(info).into_response()
    })
}

async fn patch_config(
    State(s): State<RestState>,
    Path(c): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let body: Map<String, Value> = parse_body(&body)?;
    let mut patch = ConfigPatch::default();
    for (k, v) in body {
        match v {
            Value::Null => patch.remove.push(k),
            other => patch.set.extend(props_of(Map::from_iter([(k, other)]))?),
        }
    }
    // Applied where config writes are serialized: two concurrent patches keep both their keys.
    s.herder.patch_config(&c, patch).await?;
    Ok(Json(info_of(&s, &c).await?))
}

async fn status(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<Json<Value>> {
    s.herder.connector(&c).await?;
    Ok(Json(status_of(&s, &c).await?))
}

async fn tasks(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<Json<Value>> {
    let configs = s.herder.task_configs(&c).await?;
    let out: Vec<Value> = configs
        .into_iter()
        .enumerate()
        .map(|(i, config)| json!({"id": {"connector": c, "task": i}, "config": config}))
        .collect();
    Ok(Json(json!(out)))
}

/// `GET /connectors/{c}/tasks-config`: `{"<c>-<n>": {task config}}`. Deprecated in Connect
/// (KIP-970) in favour of `/tasks`, still answered there and used by tools.
async fn tasks_config(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<Json<Value>> {
    let configs = s.herder.task_configs(&c).await?;
    let out: Map<String, Value> = configs
        .into_iter()
        .enumerate()
        .map(|(i, config)| (format!("{c}-{i}"), json!(config)))
        .collect();
    Ok(Json(Value::Object(out)))
}

/// Connect's internal endpoint: a worker running the connector sends the task configs it
/// generated to the leader, which stores them.
async fn put_tasks(
    State(s): State<RestState>,
    Path(c): Path<String>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let configs: Vec<Map<String, Value>> = parse_body(&body)?;
    let configs = configs
        .into_iter()
        .map(props_of)
        .collect::<ApiResult<Vec<Props>>>()?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = RequestSignature {
        signature: header(SIGNATURE_HEADER),
        algorithm: header(ALGORITHM_HEADER),
    };
    s.herder
        .put_task_configs(&c, configs, &body, signature)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Connect's internal endpoint (KIP-618): fence the previous generation of a source
/// connector's tasks. Any body is accepted (Connect sends none) and signed as received.
async fn fence(
    State(s): State<RestState>,
    Path(c): Path<String>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = RequestSignature {
        signature: header(SIGNATURE_HEADER),
        algorithm: header(ALGORITHM_HEADER),
    };
    s.herder.fence_zombies(&c, &body, signature).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn task_id(c: &str, t: &str) -> ApiResult<u32> {
    t.parse()
        .map_err(|_| ApiError::not_found(format!("Task {c}-{t} not found")))
}

async fn one_task_status(
    State(s): State<RestState>,
    Path((c, t)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let id = task_id(&c, &t)?;
    s.herder.connector(&c).await?;
    let st = s
        .herder
        .status(&c)
        .await
        .map(|st| with_broker_problem(&s, st));
    let task = st
        .as_ref()
        .and_then(|st| st.tasks.get(&id))
        .ok_or_else(|| ApiError::not_found(format!("No status found for task {c}-{id}")))?;
    Ok(Json(task_status(id, task)))
}

pub async fn restart_task(
    State(s): State<RestState>,
    Path((c, t)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = task_id(&c, &t)?;
    s.herder.restart_task(&c, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart(
    State(s): State<RestState>,
    Path(c): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = query(raw);
    let (include_tasks, only_failed) = (flag(&q, "includeTasks"), flag(&q, "onlyFailed"));
    if include_tasks || only_failed {
        // As Connect: such a restart is planned from the connector's status; without one
        // (no worker has reported it yet) nothing is restarted.
        s.herder.connector(&c).await?;
        if s.herder.status(&c).await.is_none() {
            return Err(ApiError::not_found(format!(
                "Status for connector {c} not found"
            )));
        }
    }
    let plan = s
        .herder
        .restart_connector(&c, include_tasks, only_failed)
        .await?;
    // As Connect: a plain restart keeps the old 204; otherwise 202 with the restart plan
    // (what it restarts shown as RESTARTING), whatever the restart has done by now.
    if !include_tasks && !only_failed {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok((StatusCode::ACCEPTED, Json(connector_status(&plan))).into_response())
}

async fn set_target(s: &RestState, c: &str, target: TargetState) -> ApiResult<()> {
    Ok(s.herder.set_target(c, target).await?)
}

async fn pause(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<StatusCode> {
    set_target(&s, &c, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn resume(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<StatusCode> {
    set_target(&s, &c, TargetState::Started).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn stop(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<StatusCode> {
    set_target(&s, &c, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn offsets(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<Json<Value>> {
    let all = s.herder.offsets(&c).await?;
    let out: Vec<Value> = all
        .into_iter()
        .map(|o| json!({"partition": o.partition, "offset": o.offset}))
        .collect();
    Ok(Json(json!({ "offsets": out })))
}

#[derive(Deserialize)]
struct OffsetsRequest {
    offsets: Vec<OffsetEntry>,
}

#[derive(Deserialize)]
struct OffsetEntry {
    partition: Map<String, Value>,
    offset: Option<Map<String, Value>>,
}

async fn alter_offsets(
    State(s): State<RestState>,
    Path(c): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: OffsetsRequest = parse_body(&body)?;
    if req.offsets.is_empty() {
        return Err(ApiError::bad_request(
            "Partitions / offsets need to be provided for an alter offsets request",
        ));
    }
    let entries = req
        .offsets
        .into_iter()
        .map(|e| ConnectorOffset {
            partition: e.partition,
            offset: e.offset,
        })
        .collect();
    s.herder.change_offsets(&c, Some(entries)).await?;
    Ok(Json(
        json!({"message": "The offsets for this connector have been altered successfully"}),
    ))
}

async fn reset_offsets(
    State(s): State<RestState>,
    Path(c): Path<String>,
) -> ApiResult<Json<Value>> {
    s.herder.change_offsets(&c, None).await?;
    Ok(Json(
        json!({"message": "The offsets for this connector have been reset successfully"}),
    ))
}

async fn topics(State(s): State<RestState>, Path(c): Path<String>) -> ApiResult<Json<Value>> {
    s.herder.connector(&c).await?;
    let topics: Vec<String> = s
        .herder
        .status(&c)
        .await
        .map(|st| st.topics.into_iter().collect())
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    out.insert(c, json!({ "topics": topics }));
    Ok(Json(json!(out)))
}

pub async fn reset_topics(
    State(s): State<RestState>,
    Path(c): Path<String>,
) -> ApiResult<StatusCode> {
    s.herder.reset_topics(&c).await?;
    Ok(StatusCode::ACCEPTED)
}

#[cfg(test)]
mod tests {
    use super::connector_path;

    #[test]
    fn a_connector_s_location_is_its_name_as_one_encoded_segment() {
        assert_eq!(connector_path("src"), "/connectors/src");
        assert_eq!(connector_path("a b"), "/connectors/a%20b");
        assert_eq!(connector_path("x/y"), "/connectors/x%2Fy");
        assert_eq!(connector_path("50%?#"), "/connectors/50%25%3F%23");
        assert_eq!(connector_path("é"), "/connectors/%C3%A9");
    }
}
