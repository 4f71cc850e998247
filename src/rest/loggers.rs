//! `/admin/loggers`: read and change log levels while the worker runs, as Connect's
//! `LoggingResource` and `Loggers` do (KIP-495, KIP-976). Logger names are tracing targets
//! (`kconnect_actors::task::sink`, `librdkafka`, …); `root` is the default level.
//!
//! - A logger is *known* once it has a level of its own, or once code logged under it or under
//!   a target below it (log4j's "current loggers", which exist once code asked for them).
//!   `GET /admin/loggers/{name}` of any other name is 404.
//! - `PUT /admin/loggers/{namespace}` sets the level of the namespace and of every known logger
//!   whose name starts with it (Connect's prefix match, which is also how a tracing filter
//!   matches targets), so a namespace resets what was set below it; it answers with all of
//!   them, sorted. `last_modified` changes only where the level did.
//! - `?scope=cluster` sets it on every worker: distributed mode writes Connect's
//!   `logger-cluster-<namespace>` record to the config topic, which each worker applies when
//!   it reads it (records older than a worker's start are ignored, as in Connect); the answer
//!   is 204. Standalone, the worker is the cluster. Any other scope is `worker`.
//! - Levels are log4j's: OFF, FATAL, ERROR, WARN, INFO, DEBUG, TRACE, ALL, in any case.
//!   tracing has no FATAL nor ALL: FATAL filters as ERROR and ALL as TRACE, and both are shown
//!   as given. An unknown level is 400 (Connect 3.9 answers 404 there; a bad level is a bad
//!   request).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tracing_subscriber::{reload, EnvFilter, Registry};

use super::connectors::parse_body;
use super::{ApiError, ApiResult, RestState};

const ROOT: &str = "root";

/// log4j's levels, and the tracing level each filters at.
const LEVELS: [(&str, &str); 8] = [
    ("OFF", "off"),
    ("FATAL", "error"),
    ("ERROR", "error"),
    ("WARN", "warn"),
    ("INFO", "info"),
    ("DEBUG", "debug"),
    ("TRACE", "trace"),
    ("ALL", "trace"),
];

/// The log4j level `level` names (any case), upper-case.
pub fn parse_level(level: &str) -> Option<&'static str> {
    let upper = level.trim().to_ascii_uppercase();
    LEVELS.iter().find(|(l, _)| *l == upper).map(|(l, _)| *l)
}

fn filter_level(level: &str) -> &'static str {
    LEVELS
        .iter()
        .find(|(l, _)| *l == level)
        .map(|(_, f)| *f)
        .unwrap_or("info")
}

/// A logger's level and when it was last changed (ms since the epoch; `None`: since start).
#[derive(Debug, Clone, PartialEq)]
struct LoggerLevel {
    level: &'static str,
    last_modified: Option<u64>,
}

type Reload = Box<dyn Fn(EnvFilter) -> Result<(), LevelError> + Send + Sync>;

/// Why a level could not be set: the filter built from the levels did not parse (a logger name
/// the filter syntax cannot take), or the subscriber is gone.
#[derive(Debug, thiserror::Error)]
pub enum LevelError {
    #[error(transparent)]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error(transparent)]
    Reload(#[from] reload::Error),
}

/// The live log filter: a root level and per-logger levels, rebuilt into an `EnvFilter`.
pub struct LogControl {
    reload: Reload,
    /// Loggers with a level of their own, `root` among them.
    levels: Mutex<BTreeMap<String, LoggerLevel>>,
    /// Targets code has logged under (fed by [`KnownTargets`]).
    seen: Arc<Mutex<BTreeSet<String>>>,
    /// Keeps the subscriber of an [`LogControl::unattached`] control alive.
    _subscriber: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl LogControl {
    /// `initial` is the filter the process started with; a plain level becomes the root level.
    /// `seen` is what a [`KnownTargets`] layer records.
    pub fn new(
        handle: reload::Handle<EnvFilter, Registry>,
        initial: &str,
        seen: Arc<Mutex<BTreeSet<String>>>,
    ) -> Self {
        // The process's own filter: `log`'s max level follows it (see `set_log_max_level`).
        let reload: Reload = Box::new(move |f| {
            let max = f.max_level_hint();
            handle.reload(f)?;
            crate::logging::set_log_max_level(max);
            Ok(())
        });
        Self::with(reload, initial, seen, None)
    }

    /// A control of a subscriber of its own that no event goes to: for a worker in a process
    /// whose global subscriber is not kconnect's (tests).
    pub fn unattached(initial: &str) -> Self {
        use tracing_subscriber::layer::SubscriberExt;
        let (layer, handle) = reload::Layer::new(EnvFilter::new("info"));
        let subscriber = tracing_subscriber::registry().with(layer);
        let reload: Reload = Box::new(move |f| Ok(handle.reload(f)?));
        let control = Self::with(
            reload,
            initial,
            Default::default(),
            Some(Box::new(subscriber)),
        );
        let _ = control.apply(&control.lock());
        control
    }

    fn with(
        reload: Reload,
        initial: &str,
        seen: Arc<Mutex<BTreeSet<String>>>,
        subscriber: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Self {
        let root = initial
            .split(',')
            .find(|d| !d.contains('='))
            .and_then(parse_level)
            .unwrap_or("INFO");
        let mut levels = BTreeMap::new();
        levels.insert(
            ROOT.to_string(),
            LoggerLevel {
                level: root,
                last_modified: None,
            },
        );
        for d in initial.split(',') {
            if let Some((target, level)) = d.split_once('=') {
                if let Some(level) = parse_level(level) {
                    levels.insert(
                        target.trim().to_string(),
                        LoggerLevel {
                            level,
                            last_modified: None,
                        },
                    );
                }
            }
        }
        LogControl {
            reload,
            levels: Mutex::new(levels),
            seen,
            _subscriber: subscriber,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LoggerLevel>> {
        self.levels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every known logger: those with a level, the targets logged under, and their ancestors.
    fn known(&self, levels: &BTreeMap<String, LoggerLevel>) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = levels.keys().cloned().collect();
        for target in self.seen.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            let mut t = target.as_str();
            loop {
                out.insert(t.to_string());
                match t.rfind("::") {
                    Some(i) => t = &t[..i],
                    None => break,
                }
            }
        }
        out
    }

    /// `name`'s level: its own, else its nearest ancestor's, else root's; `None` when no such
    /// logger is known.
    fn level(&self, name: &str) -> Option<LoggerLevel> {
        let levels = self.lock();
        if name.eq_ignore_ascii_case(ROOT) {
            return levels.get(ROOT).cloned();
        }
        if !self.known(&levels).contains(name) {
            return None;
        }
        if let Some(l) = levels.get(name) {
            return Some(l.clone());
        }
        let mut t = name;
        let inherited = loop {
            match t.rfind("::") {
                Some(i) => t = &t[..i],
                None => break levels.get(ROOT),
            }
            if let Some(l) = levels.get(t) {
                break Some(l);
            }
        };
        inherited.map(|l| LoggerLevel {
            level: l.level,
            last_modified: None,
        })
    }

    /// Sets `namespace` and every known logger under it to `level` (see the module
    /// documentation); returns them, sorted.
    pub fn set_level(
        &self,
        namespace: &str,
        level: &'static str,
    ) -> Result<Vec<String>, LevelError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .ok();
        let mut levels = self.lock();
        let root = namespace.eq_ignore_ascii_case(ROOT);
        let mut affected: Vec<String> = self
            .known(&levels)
            .into_iter()
            .filter(|l| root || l.starts_with(namespace))
            .collect();
        let namespace = if root { ROOT } else { namespace };
        if !affected.iter().any(|l| l == namespace) {
            affected.push(namespace.to_string());
        }
        let mut next = levels.clone();
        for logger in &affected {
            let current = next
                .get(logger)
                .map(|l| l.level)
                .or_else(|| effective(&next, logger));
            if current != Some(level) {
                next.insert(
                    logger.clone(),
                    LoggerLevel {
                        level,
                        last_modified: now,
                    },
                );
            } else if !next.contains_key(logger) {
                // Same level as inherited: now its own, as log4j's setLevel leaves it.
                next.insert(
                    logger.clone(),
                    LoggerLevel {
                        level,
                        last_modified: None,
                    },
                );
            }
        }
        self.apply(&next)?;
        *levels = next;
        affected.sort();
        tracing::info!(
            namespace,
            level,
            "set the level of a logging namespace and its children"
        );
        Ok(affected)
    }

    fn apply(&self, levels: &BTreeMap<String, LoggerLevel>) -> Result<(), LevelError> {
        let mut directives =
            filter_level(levels.get(ROOT).map(|l| l.level).unwrap_or("INFO")).to_string();
        for (target, l) in levels.iter().filter(|(t, _)| *t != ROOT) {
            directives.push_str(&format!(",{target}={}", filter_level(l.level)));
        }
        let filter = EnvFilter::try_new(&directives)?;
        (self.reload)(filter)
    }
}

/// The level a logger without its own inherits.
fn effective(levels: &BTreeMap<String, LoggerLevel>, name: &str) -> Option<&'static str> {
    let mut t = name;
    while let Some(i) = t.rfind("::") {
        t = &t[..i];
        if let Some(l) = levels.get(t) {
            return Some(l.level);
        }
    }
    levels.get(ROOT).map(|l| l.level)
}

/// A layer that records the target of every callsite the process reaches, so that
/// `/admin/loggers/{name}` knows which loggers exist. It filters nothing.
pub struct KnownTargets(pub Arc<Mutex<BTreeSet<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for KnownTargets {
    fn register_callsite(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        if meta.is_event() {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(meta.target().to_string());
        }
        tracing::subscriber::Interest::always()
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

fn body(l: &LoggerLevel) -> Value {
    json!({"level": l.level, "last_modified": l.last_modified})
}

/// The loggers with a level of their own.
async fn list(State(s): State<RestState>) -> ApiResult<Json<Value>> {
    let levels = control(&s)?.lock().clone();
    let out: BTreeMap<String, Value> = levels.iter().map(|(k, l)| (k.clone(), body(l))).collect();
    Ok(Json(json!(out)))
}

async fn one(State(s): State<RestState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    control(&s)?
        .level(&name)
        .map(|l| Json(body(&l)))
        .ok_or_else(|| ApiError::not_found(format!("Logger {name} not found.")))
}

#[derive(Deserialize)]
struct LevelRequest {
    level: Option<String>,
}

async fn set(
    State(s): State<RestState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let req: LevelRequest = parse_body(&body)?;
    let given = req.level.ok_or_else(|| {
        ApiError::bad_request("Desired 'level' parameter was not specified in request.")
    })?;
    let level = parse_level(&given)
        .ok_or_else(|| ApiError::bad_request(format!("invalid log level '{given}'.")))?;
    let logs = control(&s)?;
    let cluster = query
        .unwrap_or_default()
        .split('&')
        .any(|kv| kv.eq_ignore_ascii_case("scope=cluster"));
    if cluster {
        // Distributed: every worker (this one too) applies it when it reads the record.
        if !s.herder.set_cluster_logger_level(&name, level).await? {
            logs.set_level(&name, level)
                .map_err(|e| ApiError::bad_request(format!("Invalid logger name {name}: {e}")))?;
        }
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let affected = logs
        .set_level(&name, level)
        .map_err(|e| ApiError::bad_request(format!("Invalid logger name {name}: {e}")))?;
    Ok(Json(json!(affected)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_resets_its_children_and_lists_them() {
        let c = LogControl::unattached("info,a::b=trace");
        assert_eq!(c.set_level("a::c", "DEBUG").unwrap(), vec!["a::c"]);
        assert_eq!(c.set_level("a", "WARN").unwrap(), vec!["a", "a::b", "a::c"]);
        for l in ["a", "a::b", "a::c"] {
            let got = c.level(l).unwrap();
            assert_eq!(got.level, "WARN", "{l}");
            assert!(got.last_modified.is_some(), "{l}");
        }
        assert!(c.level("zzz").is_none(), "an unknown logger");
        // root takes every logger with it.
        assert_eq!(
            c.set_level("ROOT", "ERROR").unwrap(),
            vec!["a", "a::b", "a::c", "root"]
        );
    }

    #[test]
    fn a_logger_logged_under_is_known_with_the_level_it_inherits() {
        let c = LogControl::unattached("info");
        c.seen
            .lock()
            .unwrap()
            .insert("kconnect_actors::task::sink".into());
        assert_eq!(c.level("kconnect_actors::task").unwrap().level, "INFO");
        c.set_level("kconnect_actors", "DEBUG").unwrap();
        assert_eq!(c.level("kconnect_actors::task").unwrap().level, "DEBUG");
        assert!(c.level("kconnect_actors::nothing").is_none());
    }

    /// librdkafka's wrapper logs through `log`: its lines must show once a level lets them
    /// through, and cost nothing while none does. The only test of this binary that touches
    /// `log`'s global max level.
    #[test]
    fn the_log_crates_max_level_follows_the_process_filter() {
        use tracing_subscriber::layer::SubscriberExt;
        let (layer, handle) = reload::Layer::new(EnvFilter::new("warn"));
        let _subscriber = tracing_subscriber::registry().with(layer);
        let c = LogControl::new(handle, "warn", Default::default());
        c.set_level("root", "WARN").unwrap();
        assert_eq!(log::max_level(), log::LevelFilter::Warn);
        // One namespace at TRACE (rdkafka's trace lines included) raises the whole bar.
        c.set_level("rdkafka", "TRACE").unwrap();
        assert_eq!(log::max_level(), log::LevelFilter::Trace);
        c.set_level("rdkafka", "ERROR").unwrap();
        assert_eq!(log::max_level(), log::LevelFilter::Warn);
        // root takes rdkafka with it.
        c.set_level("root", "OFF").unwrap();
        assert_eq!(log::max_level(), log::LevelFilter::Off);
    }

    #[test]
    fn log4j_levels_in_any_case() {
        for (given, level) in [
            ("off", "OFF"),
            ("Fatal", "FATAL"),
            ("all", "ALL"),
            ("error", "ERROR"),
            ("WARN", "WARN"),
            ("info", "INFO"),
            ("debug", "DEBUG"),
            ("trace", "TRACE"),
        ] {
            assert_eq!(parse_level(given), Some(level));
        }
        assert_eq!(parse_level("LOUD"), None);
    }
}
