//! The human form of each reply (`-o table`, the default): tables for lists, a word of
//! confirmation for actions. A reply of a shape this does not know (another Connect version,
//! say) is printed as pretty JSON rather than lost.

use serde_json::{Map, Value};

use super::table::{first_line, Table};
use super::{CtlCommand, OffsetsCommand};

/// Width of a trace in a table cell.
const TRACE_WIDTH: usize = 100;

/// The text for a successful reply to `command` (HTTP `status`, JSON `body`).
pub(crate) fn render(command: &CtlCommand, status: u16, body: Option<&Value>) -> String {
    use CtlCommand::*;
    let rendered = match command {
        List { .. } => body.and_then(connector_list),
        Status { .. } => body.and_then(status_view),
        Info { name: None } => body.and_then(cluster_info),
        Info { name: Some(_) } => body.and_then(connector_info),
        Config { .. } => body.and_then(Value::as_object).map(config_table),
        Tasks { .. } => body.and_then(task_configs),
        Topics { name } => body.and_then(|b| topics(b, name)),
        Plugins { .. } => body.and_then(plugins),
        Loggers => body.and_then(loggers),
        Logger { name, level: None } => body
            .and_then(|b| b.get("level"))
            .and_then(Value::as_str)
            .map(|level| format!("{name}: {level}")),
        Logger {
            name,
            level: Some(level),
        } => Some(logger_set(name, level, body)),
        Offsets(OffsetsCommand::Get { .. }) => body.and_then(offsets),
        Offsets(OffsetsCommand::Reset { name } | OffsetsCommand::Alter { name, .. }) => {
            Some(message_or(body, || {
                format!("Changed the offsets of connector {name}")
            }))
        }
        Create { .. } => Some(
            match body.and_then(|b| b.get("name")).and_then(Value::as_str) {
                Some(name) => format!("Created connector {name}"),
                None => "Created connector".to_string(),
            },
        ),
        Update { name, .. } => Some(created_or_updated(status, name)),
        Patch { name, .. } => Some(format!("Updated connector {name}")),
        Delete { name } => Some(format!("Deleted connector {name}")),
        Pause { name } => Some(format!("Paused connector {name}")),
        Resume { name } => Some(format!("Resumed connector {name}")),
        Stop { name } => Some(format!("Stopped connector {name}")),
        Restart { name, .. } => {
            let done = format!("Restarted connector {name}");
            // With includeTasks/onlyFailed the reply is the status being restarted.
            Some(match body.and_then(status_view) {
                Some(view) => format!("{done}\n\n{view}"),
                None => done,
            })
        }
        RestartTask { name, id } => Some(format!("Restarted task {id} of connector {name}")),
        TopicsReset { name } => Some(format!("Reset the active topics of connector {name}")),
        Fault { kind, .. } => Some(format!("Injected fault {kind}")),
        // Printed by their own code paths.
        Validate { .. } | Describe { .. } | Apply { .. } | Context(_) => None,
    };
    match (rendered, body) {
        (Some(text), _) => text,
        (None, Some(body)) => super::pretty(body),
        (None, None) => String::new(),
    }
}

/// "Created connector x" for a 201 to a PUT of a config, "Updated connector x" otherwise.
pub(crate) fn created_or_updated(status: u16, name: &str) -> String {
    if status == 201 {
        format!("Created connector {name}")
    } else {
        format!("Updated connector {name}")
    }
}

fn message_or(body: Option<&Value>, fallback: impl FnOnce() -> String) -> String {
    body.and_then(|b| b.get("message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(fallback)
}

fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `GET /connectors`: names, or with `?expand=status` a map of name to status.
fn connector_list(body: &Value) -> Option<String> {
    if let Some(names) = body.as_array() {
        let mut table = Table::new(&["NAME"]);
        for name in names {
            table.row(vec![text(Some(name))]);
        }
        return Some(table.render());
    }
    let map = body.as_object()?;
    let mut table = Table::new(&["NAME", "TYPE", "STATE", "TASKS"]);
    for (name, entry) in map {
        let status = entry.get("status");
        let info = entry.get("info");
        let kind = status
            .and_then(|s| s.get("type"))
            .or_else(|| info.and_then(|i| i.get("type")));
        let state = status.and_then(|s| s.pointer("/connector/state"));
        let tasks = status
            .and_then(|s| s.get("tasks"))
            .and_then(Value::as_array)
            .map(|tasks| task_summary(tasks))
            .unwrap_or_default();
        table.row(vec![name.clone(), text(kind), text(state), tasks]);
    }
    Some(table.render())
}

/// "2 RUNNING, 1 FAILED" (states in order of first appearance), or "-" for no tasks.
fn task_summary(tasks: &[Value]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for task in tasks {
        let state = text(task.get("state"));
        match counts.iter_mut().find(|(s, _)| *s == state) {
            Some((_, n)) => *n += 1,
            None => counts.push((state, 1)),
        }
    }
    if counts.is_empty() {
        return "-".into();
    }
    counts
        .into_iter()
        .map(|(state, n)| format!("{n} {state}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A connector's status: its own line, then a table of its tasks.
pub(crate) fn status_view(body: &Value) -> Option<String> {
    let connector = body.get("connector")?;
    let mut table = Table::new(&["NAME", "TYPE", "STATE", "WORKER"]);
    table.row(vec![
        text(body.get("name")),
        text(body.get("type")),
        text(connector.get("state")),
        text(connector.get("worker_id")),
    ]);
    let mut out = table.render();
    if let Some(trace) = connector.get("trace").and_then(Value::as_str) {
        out.push_str(&format!("\nTRACE: {}", first_line(trace, TRACE_WIDTH)));
    }
    let tasks = body.get("tasks").and_then(Value::as_array);
    if let Some(tasks) = tasks.filter(|t| !t.is_empty()) {
        out.push_str("\n\n");
        out.push_str(&task_table(tasks).render());
    }
    Some(out)
}

pub(crate) fn task_table(tasks: &[Value]) -> Table {
    let mut table = Table::new(&["TASK", "STATE", "WORKER", "TRACE"]);
    for task in tasks {
        table.row(vec![
            text(task.get("id")),
            text(task.get("state")),
            text(task.get("worker_id")),
            task.get("trace")
                .and_then(Value::as_str)
                .map(|t| first_line(t, TRACE_WIDTH))
                .unwrap_or_default(),
        ]);
    }
    table
}

/// `GET /`: version, commit, Kafka cluster id.
fn cluster_info(body: &Value) -> Option<String> {
    let map = body.as_object()?;
    let mut table = Table::new(&["VERSION", "COMMIT", "KAFKA CLUSTER ID"]);
    table.row(vec![
        text(map.get("version")),
        text(map.get("commit")),
        text(map.get("kafka_cluster_id")),
    ]);
    Some(table.render())
}

/// `GET /connectors/NAME`: name, type and task count, then the config.
fn connector_info(body: &Value) -> Option<String> {
    let config = body.get("config")?.as_object()?;
    let tasks = body
        .get("tasks")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    Some(format!(
        "Connector {} ({}, {tasks} task{})\n\n{}",
        text(body.get("name")),
        text(body.get("type")),
        if tasks == 1 { "" } else { "s" },
        config_table(config)
    ))
}

pub(crate) fn config_table(config: &Map<String, Value>) -> String {
    config_rows(config).render()
}

pub(crate) fn config_rows(config: &Map<String, Value>) -> Table {
    let mut keys: Vec<&String> = config.keys().collect();
    keys.sort();
    let mut table = Table::new(&["KEY", "VALUE"]);
    for key in keys {
        table.row(vec![key.clone(), text(config.get(key))]);
    }
    table
}

/// `GET /connectors/NAME/tasks`, in Connect's shape `[{"id": {"connector", "task"}, "config":
/// {...}}]` or an older flat one (`{"id": 0, ...config}` or just the configs).
fn task_configs(body: &Value) -> Option<String> {
    let tasks = body.as_array()?;
    let mut table = Table::new(&["TASK", "KEY", "VALUE"]);
    for (index, task) in tasks.iter().enumerate() {
        let (id, config) = task_config(index, task)?;
        let mut keys: Vec<&String> = config.keys().collect();
        keys.sort();
        for key in keys {
            table.row(vec![id.clone(), key.clone(), text(config.get(key))]);
        }
    }
    Some(table.render())
}

/// A task's id and config, whichever of the known shapes it has.
pub(crate) fn task_config(index: usize, task: &Value) -> Option<(String, Map<String, Value>)> {
    let object = task.as_object()?;
    let id = match object.get("id") {
        Some(Value::Object(id)) => text(id.get("task")),
        Some(Value::Number(n)) => n.to_string(),
        _ => index.to_string(),
    };
    let config = match object.get("config") {
        Some(Value::Object(config)) => config.clone(),
        _ => {
            let mut flat = object.clone();
            flat.remove("id");
            flat
        }
    };
    Some((id, config))
}

/// `GET /connectors/NAME/topics`: `{"NAME": {"topics": [...]}}`.
fn topics(body: &Value, name: &str) -> Option<String> {
    let list = topic_names(body, name)?;
    if list.is_empty() {
        return Some(format!("Connector {name} has used no topics yet"));
    }
    let mut table = Table::new(&["TOPIC"]);
    for topic in list {
        table.row(vec![topic]);
    }
    Some(table.render())
}

pub(crate) fn topic_names(body: &Value, name: &str) -> Option<Vec<String>> {
    let list = body.get(name)?.get("topics")?.as_array()?;
    Some(list.iter().map(|t| text(Some(t))).collect())
}

fn plugins(body: &Value) -> Option<String> {
    let plugins = body.as_array()?;
    let mut table = Table::new(&["CLASS", "TYPE", "VERSION"]);
    for p in plugins {
        table.row(vec![
            text(p.get("class")),
            text(p.get("type")),
            text(p.get("version")),
        ]);
    }
    Some(table.render())
}

fn loggers(body: &Value) -> Option<String> {
    let map = body.as_object()?;
    let mut table = Table::new(&["LOGGER", "LEVEL", "LAST MODIFIED"]);
    for (name, logger) in map {
        let modified = match logger.get("last_modified") {
            Some(Value::Number(ms)) => ms
                .as_u64()
                .map(format_millis)
                .unwrap_or_else(|| ms.to_string()),
            _ => String::new(),
        };
        table.row(vec![name.clone(), text(logger.get("level")), modified]);
    }
    Some(table.render())
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
fn format_millis(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

fn logger_set(name: &str, level: &str, body: Option<&Value>) -> String {
    let level = level.to_ascii_uppercase();
    let changed: Vec<String> = body
        .and_then(Value::as_array)
        .map(|names| names.iter().map(|n| text(Some(n))).collect())
        .unwrap_or_default();
    let others: Vec<&String> = changed.iter().filter(|n| *n != name).collect();
    if others.is_empty() {
        format!("Set logger {name} to {level}")
    } else {
        format!(
            "Set logger {name} to {level} (also: {})",
            others
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

fn offsets(body: &Value) -> Option<String> {
    let list = body.get("offsets")?.as_array()?;
    if list.is_empty() {
        return Some("No offsets".into());
    }
    let mut table = Table::new(&["PARTITION", "OFFSET"]);
    for entry in list {
        table.row(vec![
            text(entry.get("partition")),
            text(entry.get("offset")),
        ]);
    }
    Some(table.render())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_and_statuses() {
        let body = json!({"src": {"status": {"name": "src", "type": "source",
            "connector": {"state": "RUNNING", "worker_id": "w:1"},
            "tasks": [{"id": 0, "state": "RUNNING"}, {"id": 1, "state": "FAILED"},
                      {"id": 2, "state": "RUNNING"}]}}});
        assert_eq!(
            connector_list(&body).unwrap(),
            "NAME  TYPE    STATE    TASKS\nsrc   source  RUNNING  2 RUNNING, 1 FAILED"
        );
        assert_eq!(connector_list(&json!(["a"])).unwrap(), "NAME\na");
        let status = json!({"name": "s", "type": "sink",
            "connector": {"state": "RUNNING", "worker_id": "w:1"},
            "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w:1",
                       "trace": "boom\n\tat somewhere"}]});
        assert_eq!(
            status_view(&status).unwrap(),
            "NAME  TYPE  STATE    WORKER\ns     sink  RUNNING  w:1\n\n\
             TASK  STATE   WORKER  TRACE\n0     FAILED  w:1     boom"
        );
    }

    #[test]
    fn task_configs_in_either_shape() {
        let connect = json!([{"id": {"connector": "c", "task": 0}, "config": {"k": "v"}}]);
        let flat = json!([{"id": 0, "k": "v"}]);
        let expected = "TASK  KEY  VALUE\n0     k    v";
        assert_eq!(task_configs(&connect).unwrap(), expected);
        assert_eq!(task_configs(&flat).unwrap(), expected);
    }

    #[test]
    fn unknown_shapes_fall_back_to_json() {
        let command = CtlCommand::Plugins { all: false };
        let body = json!({"unexpected": true});
        assert_eq!(
            render(&command, 200, Some(&body)),
            super::super::pretty(&body)
        );
    }

    #[test]
    fn dates() {
        assert_eq!(format_millis(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_millis(1_700_000_000_123), "2023-11-14 22:13:20 UTC");
    }
}
