//! `/connector-plugins` endpoints (Connect's ConnectorPluginsResource).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use kconnect_actors::validation::{self, framework_config_def};
use kconnect_connectors::config::{ConfigDef, ConfigKey, ConfigValue};
use kconnect_connectors::converters::{
    converter_config_def, CONVERTER_CLASSES, SIMPLE_HEADER_CONVERTER,
};
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
        // In Connect's order: connectors, transformations, predicates, converters, header
        // converters.
        let info = |class: &str, kind: &str, version: &str| json!({"class": class, "type": kind, "version": version});
        out.extend(
            s.plugins
                .transformations()
                .iter()
                .map(|p| info(p.class_name, "transformation", &p.version)),
        );
        out.extend(
            s.plugins
                .predicates()
                .iter()
                .map(|p| info(p.class_name, "predicate", &p.version)),
        );
        out.extend(CONVERTER_CLASSES.iter().map(
            |c| json!({"class": c, "type": "converter", "version": env!("CARGO_PKG_VERSION")}),
        ));
        // Then the header converters: SimpleHeaderConverter and every converter again, as
        // they all implement HeaderConverter in Connect.
        out.extend(
            std::iter::once(&SIMPLE_HEADER_CONVERTER)
                .chain(CONVERTER_CLASSES)
                .map(|c| info(c, "header_converter", env!("CARGO_PKG_VERSION"))),
        );
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
fn key_info(k: &ConfigKey) -> Value {
    json!({
        "name": k.name,
        "type": k.ty.as_str(),
        "required": k.required(),
        "default_value": k.default_string(),
        "importance": k.importance.as_str(),
        "documentation": k.documentation,
        "group": k.group,
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

/// The config keys of a plugin: for a connector, the framework's keys (Connect's
/// `SourceConnectorConfig` / `SinkConnectorConfig`) followed by the connector's own; for a
/// transformation, a predicate or a converter, its own (KIP-769), without prefix.
async fn config(State(s): State<RestState>, Path(p): Path<String>) -> ApiResult<Json<Value>> {
    let own = |def: ConfigDef| def.keys().iter().map(key_info).collect::<Vec<Value>>();
    let keys: Vec<Value> = if let Some(plugin) = s.plugins.connector(&p) {
        let own = plugin.create().config_def();
        framework_config_def(plugin.kind)
            .keys()
            .iter()
            .chain(own.keys())
            .map(key_info)
            .collect()
    } else if let Some(t) = s.plugins.transformation(&p) {
        own(t.create().config_def())
    } else if let Some(pr) = s.plugins.predicate(&p) {
        own(pr.create().config_def())
    } else {
        own(converter_config_def(&p).ok_or_else(|| {
            ApiError::not_found(format!(
                "Failed to find any class that implements Connector, Converter, \
                 HeaderConverter, Transformation or Predicate and which name matches {p}"
            ))
        })?)
    };
    Ok(Json(json!(keys)))
}

/// Connect's `ConfigInfos` for a connector config (see [`kconnect_actors::validation`]): the
/// framework's keys, the connector's own, its converters' and its client overrides, each with
/// its value and errors. PASSWORD values show as `[hidden]`.
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
    let report = validation::validate(s.herder.context(), plugin, &props);
    let configs: Vec<Value> = report
        .entries
        .iter()
        .map(|e| {
            json!({
                "definition": e.key.as_ref().map(key_info),
                "value": value_info(&e.value),
            })
        })
        .collect();
    Ok(Json(json!({
        "name": report.class,
        "error_count": report.error_count(),
        "groups": report.groups,
        "configs": configs,
    })))
}

/// A config as Java prints a map (`{k=v, k2=v2}`), for Connect's messages that show one.
fn java_map(props: &kconnect_connectors::api::Props) -> String {
    let pairs: Vec<String> = props.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}
