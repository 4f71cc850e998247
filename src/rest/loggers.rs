//! `/admin/loggers`: read and change tracing levels while the worker runs. Logger names are
//! tracing targets (`kconnect_actors::task::sink`, `librdkafka`, …); `root` is the default.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing_subscriber::{reload, EnvFilter, Registry};

use super::connectors::parse_body;
use super::{ApiError, ApiResult, RestState};

/// Connect's log4j levels that tracing has; OFF silences a logger (tracing's `off`).
const LEVELS: [&str; 6] = ["OFF", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"];

/// The live log filter: a root level and per-logger levels, rebuilt into an `EnvFilter`.
pub struct LogControl {
    handle: reload::Handle<EnvFilter, Registry>,
    /// logger → (level, last modified in ms since the epoch).
    levels: Mutex<BTreeMap<String, (String, Option<u64>)>>,
}

impl LogControl {
    /// `initial` is the filter the process started with; a plain level becomes the root level.
    pub fn new(handle: reload::Handle<EnvFilter, Registry>, initial: &str) -> Self {
        let root = initial
            .split(',')
            .find(|d| !d.contains('='))
            .map(|l| l.trim().to_ascii_uppercase())
            .filter(|l| LEVELS.contains(&l.as_str()))
            .unwrap_or_else(|| "INFO".into());
        let mut levels = BTreeMap::new();
        levels.insert("root".to_string(), (root, None));
        for d in initial.split(',') {
            if let Some((target, level)) = d.split_once('=') {
                levels.insert(
                    target.trim().to_string(),
                    (level.trim().to_ascii_uppercase(), None),
                );
            }
        }
        LogControl {
            handle,
            levels: Mutex::new(levels),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (String, Option<u64>)>> {
        self.levels.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, logger: &str, level: &str) -> Result<(), String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .ok();
        let mut levels = self.lock();
        levels.insert(logger.to_string(), (level.to_string(), now));
        let mut directives = levels
            .get("root")
            .map(|(l, _)| l.to_ascii_lowercase())
            .unwrap_or_else(|| "info".into());
        for (target, (l, _)) in levels.iter().filter(|(t, _)| *t != "root") {
            directives.push_str(&format!(",{target}={}", l.to_ascii_lowercase()));
        }
        let filter = EnvFilter::try_new(&directives).map_err(|e| e.to_string())?;
        self.handle.reload(filter).map_err(|e| e.to_string())
    }
}

pub fn routes() -> Router<RestState> {
    Router::new()
        .route("/admin/loggers", get(list))
        .route("/admin/loggers/{name}", get(one).put(set))
}

fn control(s: &RestState) -> ApiResult<&LogControl> {
    s.logs
        .as_deref()
        .ok_or_else(|| ApiError::not_found("Log level control is not enabled on this worker"))
}

async fn list(State(s): State<RestState>) -> ApiResult<Json<Value>> {
    let levels = control(&s)?.lock().clone();
    let out: BTreeMap<String, Value> = levels
        .into_iter()
        .map(|(k, (l, m))| (k, json!({"level": l, "last_modified": m})))
        .collect();
    Ok(Json(json!(out)))
}

async fn one(State(s): State<RestState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let levels = control(&s)?.lock().clone();
    // A logger without its own level has the level of its nearest configured parent.
    let mut target = name.as_str();
    loop {
        if let Some((l, m)) = levels.get(target) {
            return Ok(Json(json!({"level": l, "last_modified": m})));
        }
        match target.rfind("::") {
            Some(i) => target = &target[..i],
            None => break,
        }
    }
    let (l, _) = levels.get("root").cloned().unwrap_or(("INFO".into(), None));
    Ok(Json(json!({"level": l, "last_modified": null})))
}

#[derive(Deserialize)]
struct LevelRequest {
    level: String,
}

async fn set(
    State(s): State<RestState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: LevelRequest = parse_body(&body)?;
    let level = req.level.to_ascii_uppercase();
    if !LEVELS.contains(&level.as_str()) {
        return Err(ApiError::bad_request(format!(
            "Invalid log level '{}'",
            req.level
        )));
    }
    control(&s)?
        .set(&name, &level)
        .map_err(|e| ApiError::bad_request(format!("Invalid logger name {name}: {e}")))?;
    Ok(Json(json!([name])))
}
