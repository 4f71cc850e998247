//! `/connector-plugins` endpoints (Connect's ConnectorPluginsResource).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use kconnect_actors::config::{connector_config_def, sink_connector_config_def, sink_topics};
use kconnect_connectors::api::ConnectorKind;
use kconnect_connectors::config::{ConfigDef, ConfigKey, ConfigValue};
use kconnect_connectors::converters::CONVERTER_CLASSES;
use kconnect_connectors::registry::ConnectorPlugin;
use serde_json::{json, Map, Value};

use super::connectors::parse_body;
use super::{ApiError, ApiResult, RestState};

pub fn routes() -> Router<RestState> {
    Router::new()
        .route("/connector-plugins", get(list))
        .route("/connector-plugins/{p}/config", get(config))
        .route("/connector-plugins/{p}/config/validate", put(validate))
}

async fn list(State(s): State<RestState>, RawQuery(raw): RawQuery) -> Json<Value> {
    let connectors_only = !raw
        .unwrap_or_default()
        .split('&')
        .any(|p| p.eq_ignore_ascii_case("connectorsOnly=false"));
    let mut out: Vec<Value> = s
        .plugins
        .connectors()
        .iter()
        .map(|p| json!({"class": p.class_name, "type": p.kind.as_str(), "version": p.version}))
        .collect();
    if !connectors_only {
        out.extend(CONVERTER_CLASSES.iter().map(
            |c| json!({"class": c, "type": "converter", "version": env!("CARGO_PKG_VERSION")}),
        ));
    }
    Json(json!(out))
}

fn plugin<'a>(s: &'a RestState, name: &str) -> ApiResult<&'a ConnectorPlugin> {
    s.plugins.connector(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "Failed to find any class that implements Connector and which name matches {name}"
        ))
    })
}

/// Connect's `ConfigKeyInfo`.
fn key_info(k: &ConfigKey, default_group: Option<&str>) -> Value {
    json!({
        "name": k.name,
        "type": k.ty.as_str(),
        "required": k.required(),
        "default_value": k.default_string(),
        "importance": k.importance.as_str(),
        "documentation": k.documentation,
        "group": k.group.as_deref().or(default_group),
        "order": k.order,
        "width": k.width.as_str(),
        "display_name": k.display_name,
        "dependents": k.dependents,
    })
}

fn value_info(v: &ConfigValue) -> Value {
    json!({
        "name": v.name,
        "value": v.value,
        "recommended_values": v.recommended_values,
        "errors": v.errors,
        "visible": v.visible,
    })
}

async fn config(State(s): State<RestState>, Path(p): Path<String>) -> ApiResult<Json<Value>> {
    let def = plugin(&s, &p)?.create().config_def();
    let keys: Vec<Value> = def.keys().iter().map(|k| key_info(k, None)).collect();
    Ok(Json(json!(keys)))
}

/// `ConfigInfos` for a connector config: Connect's common keys (group "Common") and the
/// connector's own, each with its value and errors. PASSWORD values show as `[hidden]`.
async fn validate(
    State(s): State<RestState>,
    Path(p): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let config: Map<String, Value> = parse_body(&body)?;
    let props: kconnect_connectors::api::Props = config
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Null => None,
            other => Some((k, other.to_string())),
        })
        .collect();
    let plugin = plugin(&s, &p)?;
    // As Connect: the config names its class (the request's plugin is not used in its place).
    let Some(class) = props.get("connector.class") else {
        return Err(ApiError::bad_request(format!(
            "Connector config {} contains no connector type",
            java_map(&props)
        )));
    };
    let same = s.plugins.connector(class).map(|c| c.class_name) == Some(plugin.class_name);
    if !same {
        return Err(ApiError::bad_request(format!(
            "Included connector type {class} does not match request type {p}"
        )));
    }
    let sink = plugin.kind == ConnectorKind::Sink;
    let common = if sink {
        sink_connector_config_def()
    } else {
        connector_config_def()
    };
    // Exactly one of topics and topics.regex: the error shows on both keys, as in Connect.
    let topics_error = if sink {
        sink_topics(&props).err().map(|e| e.to_string())
    } else {
        None
    };
    // A source's topic creation groups, as the worker checks them; an error about a group's
    // own key shows on topic.creation.groups, naming that key.
    let creation_error = if sink {
        None
    } else {
        kconnect_actors::topic_creation::TopicCreation::parse(&props).err()
    };
    let own: ConfigDef = plugin.create().config_def();
    let mut configs = Vec::new();
    let mut errors = 0;
    let mut push = |k: &ConfigKey, v: &ConfigValue, group: Option<&str>| {
        errors += v.errors.len();
        configs.push(json!({"definition": key_info(k, group), "value": value_info(v)}));
    };
    for mut v in common.validate(&props) {
        if let (Some(e), "topics" | "topics.regex") = (&topics_error, v.name.as_str()) {
            v.errors.push(e.clone());
        }
        if let Some(e) = &creation_error {
            let shown_on = if common.key(e.key()).is_some() {
                e.key()
            } else {
                kconnect_actors::topic_creation::GROUPS
            };
            if v.name == shown_on {
                v.errors.push(e.to_string());
            }
        }
        if let Some(k) = common.key(&v.name) {
            push(k, &v, Some("Common"));
        }
    }
    let connector = plugin.create();
    for v in connector.validate(&props) {
        if let Some(k) = own.key(&v.name) {
            push(k, &v, None);
        }
    }
    let mut groups = vec!["Common".to_string()];
    groups.extend(own.groups().into_iter().filter(|g| g != "Common"));
    Ok(Json(json!({
        "name": plugin.class_name,
        "error_count": errors,
        "groups": groups,
        "configs": configs,
    })))
}

/// A config as Java prints a map (`{k=v, k2=v2}`), for Connect's messages that show one.
fn java_map(props: &kconnect_connectors::api::Props) -> String {
    let pairs: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}
