//! Connect's REST entities, built from the worker's state.

use kconnect_actors::status::{ConnectorStatus, Status};
use kconnect_connectors::api::Props;
use serde_json::{json, Map, Value};

fn status_body(s: &Status) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("state".into(), json!(s.state.as_str()));
    m.insert("worker_id".into(), json!(s.worker_id));
    if let Some(t) = s.trace.as_deref().filter(|t| !t.is_empty()) {
        m.insert("trace".into(), json!(t));
    }
    m
}

/// `ConnectorStateInfo`: `{"name", "connector": {...}, "tasks": [...], "type"}`.
pub fn connector_status(c: &ConnectorStatus) -> Value {
    let tasks: Vec<Value> = c
        .tasks
        .iter()
        .map(|(id, t)| {
            let mut m = Map::new();
            m.insert("id".into(), json!(id));
            m.extend(status_body(t));
            Value::Object(m)
        })
        .collect();
    json!({
        "name": c.name,
        "connector": Value::Object(status_body(&c.connector)),
        "tasks": tasks,
        "type": c.kind,
    })
}

/// A task's status: `{"id", "state", "worker_id", "trace"?}`.
pub fn task_status(id: u32, t: &Status) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.extend(status_body(t));
    Value::Object(m)
}

/// `ConnectorInfo`: `{"name", "config", "tasks": [{"connector", "task"}], "type"}`.
pub fn connector_info(name: &str, config: &Props, tasks: usize, kind: &str) -> Value {
    let tasks: Vec<Value> = (0..tasks)
        .map(|t| json!({"connector": name, "task": t}))
        .collect();
    json!({"name": name, "config": config, "tasks": tasks, "type": kind})
}
