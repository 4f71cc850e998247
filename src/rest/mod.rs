//! The REST API, compatible with Kafka Connect's ([`KAFKA_CONNECT_VERSION`]): same paths,
//! status codes, headers and JSON bodies, so curl scripts, kcctl, UIs and Terraform providers
//! work unchanged. Errors are always `{"error_code": …, "message": …}`: unknown routes, bad
//! JSON, axum's own rejections and panics included (see [`errors`]).

mod bodies;
mod connectors;
mod errors;
mod faults;
pub mod forward;
pub mod loggers;
mod plugins;
pub mod security;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kconnect_actors::{Herder, WorkerError};
use kconnect_connectors::registry::PluginRegistry;
use serde_json::json;
use tokio::net::TcpListener;

pub use loggers::LogControl;

/// What every handler shares.
#[derive(Clone)]
pub struct RestState {
    pub herder: Arc<dyn Herder>,
    pub plugins: Arc<PluginRegistry>,
    pub logs: Option<Arc<LogControl>>,
    pub kafka_cluster_id: Option<String>,
    /// The embedded broker, for broker faults (`POST /admin/faults`).
    pub broker: Option<Arc<crate::embedded_broker::EmbeddedBroker>>,
    /// Renders `GET /metrics`.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Distributed mode: the client that replays requests at other workers (see [`forward`]).
    pub peers: Option<reqwest::Client>,
}

/// A Connect error response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Distributed mode: another worker (at this REST URL) must answer instead.
    pub forward: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            forward: None,
        }
    }
    /// The worker at `url` must answer the request (see [`forward`]).
    pub fn forward(url: String, why: impl Into<String>) -> Self {
        ApiError {
            forward: Some(url),
            ..Self::new(StatusCode::CONFLICT, why)
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error_code": self.status.as_u16(), "message": self.message});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(url) = self.forward {
            response.extensions_mut().insert(forward::ForwardTo(url));
        }
        response
    }
}

impl From<WorkerError> for ApiError {
    fn from(e: WorkerError) -> Self {
        if let WorkerError::NotLeader(url) | WorkerError::ElsewhereAt(url) = &e {
            return ApiError::forward(url.clone(), e.to_string());
        }
        let status = match &e {
            WorkerError::InvalidConfig { .. }
            | WorkerError::UnknownClass { .. }
            | WorkerError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WorkerError::Duplicate(_)
            | WorkerError::Conflict(_)
            | WorkerError::NotLeader(_)
            | WorkerError::ElsewhereAt(_) => StatusCode::CONFLICT,
            WorkerError::NotFound(_) | WorkerError::TaskNotFound(..) => StatusCode::NOT_FOUND,
            WorkerError::Forbidden(_) => StatusCode::FORBIDDEN,
            WorkerError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match e {
            WorkerError::Duplicate(name) => format!("Connector {name} already exists"),
            other => other.to_string(),
        };
        ApiError::new(status, message)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The Kafka Connect release kconnect is compatible with: the one the interop tests run
/// against (`kafka.version` in tests/kafka/pom.xml; a unit test keeps the two equal).
pub const KAFKA_CONNECT_VERSION: &str = "4.3.1";
/// That release's commit id, as its `GET /` reports it (`commitId` in kafka-clients'
/// `kafka/kafka-version.properties`).
pub const KAFKA_CONNECT_COMMIT: &str = "26b251a451ce941d";

/// The largest request body accepted (413 beyond it).
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The router with every endpoint.
pub fn router(state: RestState) -> axum::Router {
    use axum::routing::{get, post, put};
    // Connect's fields describe the Kafka Connect kconnect stands in for (tools compare
    // `version` to decide what they may call); kconnect's own build is in extra fields.
    let root = get(
        |axum::extract::State(s): axum::extract::State<RestState>| async move {
            Json(json!({
                "version": KAFKA_CONNECT_VERSION,
                "commit": KAFKA_CONNECT_COMMIT,
                "kafka_cluster_id": s.kafka_cluster_id,
                "kconnect_version": env!("CARGO_PKG_VERSION"),
                "kconnect_commit": option_env!("KCONNECT_COMMIT").unwrap_or("unknown"),
            }))
        },
    );
    // Connect's shape (KIP-1017); unhealthy (503) while the worker cannot reach its brokers.
    let health = get(
        |axum::extract::State(s): axum::extract::State<RestState>| async move {
            match s.herder.context().broker_health.problem() {
                None => (
                    axum::http::StatusCode::OK,
                    Json(json!({
                        "status": "healthy",
                        "message": "Worker has completed startup and is ready to handle requests."
                    })),
                ),
                Some(problem) => (
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({ "status": "unhealthy", "message": problem })),
                ),
            }
        },
    );
    axum::Router::new()
        .route("/", root)
        .route("/health", health)
        .merge(connectors::routes())
        .merge(plugins::routes())
        .merge(loggers::routes())
        .merge(faults::routes())
        .route("/metrics", get(metrics_text))
        .route("/admin/worker", get(local_work))
        .route(
            "/connectors/{c}/tasks/{t}/restart",
            post(connectors::restart_task),
        )
        .route(
            "/connectors/{c}/topics/reset",
            put(connectors::reset_topics),
        )
        .fallback(|| async { ApiError::not_found("HTTP 404 Not Found") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            )
        })
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forward::forwarding,
        ))
        .layer(axum::middleware::from_fn(errors::json_media_type))
        .layer(axum::middleware::from_fn(errors::json_errors))
        .with_state(state)
}

/// `GET /admin/worker` (kconnect's own): what runs in this worker process, with each task's
/// actor id and name (a task that restarted has a new one of each), and in distributed mode its
/// place in the group.
async fn local_work(
    axum::extract::State(s): axum::extract::State<RestState>,
) -> Json<serde_json::Value> {
    let work = s.herder.local_work().await;
    let connectors: Vec<serde_json::Value> = work
        .iter()
        .filter(|w| w.instance)
        .map(|w| json!(w.connector))
        .collect();
    let tasks: Vec<serde_json::Value> = work
        .iter()
        .flat_map(|w| {
            w.tasks.iter().map(move |t| {
                json!({"connector": w.connector, "task": t.task, "actor": t.id, "name": t.name})
            })
        })
        .collect();
    Json(json!({
        "worker_id": s.herder.context().worker_id,
        "cluster": s.herder.cluster_info(),
        "connectors": connectors,
        "tasks": tasks,
    }))
}

/// `GET /metrics`: Prometheus text format.
async fn metrics_text(
    axum::extract::State(s): axum::extract::State<RestState>,
) -> ApiResult<Response> {
    let handle = s
        .metrics
        .ok_or_else(|| ApiError::not_found("metrics are not enabled in this process"))?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        handle.render(),
    )
        .into_response())
}

/// Why the REST listener could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(
        "Invalid value {0} for configuration listeners: expected http://host:port or https://host:port"
    )]
    BadListener(String),
    #[error(transparent)]
    Tls(#[from] security::TlsError),
    #[error(transparent)]
    Credentials(#[from] security::CredentialsError),
    #[error("cannot listen on {listener}: {source}")]
    Listen {
        listener: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    LocalAddr(#[source] std::io::Error),
}

/// A bound REST listener: plain HTTP, or HTTPS with its rustls config.
pub struct Listener {
    tcp: TcpListener,
    tls: Option<rustls::ServerConfig>,
    credentials: Option<Arc<security::Credentials>>,
}

impl Listener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    pub fn is_https(&self) -> bool {
        self.tls.is_some()
    }
}

/// Binds a listener given in Connect's `listeners` form (`http://host:port` or
/// `https://host:port`; an empty host binds every interface, as in Connect; port 0 lets the
/// kernel choose). `props` is the worker config, for TLS and basic-auth settings.
pub async fn bind(
    listener: &str,
    props: &kconnect_connectors::api::Props,
) -> Result<Listener, BindError> {
    let (rest, https) = match listener.split_once("://") {
        Some(("http", r)) => (r, false),
        Some(("https", r)) => (r, true),
        _ => return Err(BindError::BadListener(listener.to_string())),
    };
    let rest = rest.trim_end_matches('/');
    let addr = if rest.starts_with(':') {
        format!("0.0.0.0{rest}")
    } else {
        rest.to_string()
    };
    let tls = if https {
        Some(security::tls_config(props)?)
    } else {
        None
    };
    let credentials = match props.get(security::CREDENTIALS_FILE) {
        Some(f) => Some(Arc::new(security::Credentials::load(
            std::path::Path::new(f),
        )?)),
        None => None,
    };
    let tcp = TcpListener::bind(&addr)
        .await
        .map_err(|source| BindError::Listen {
            listener: listener.to_string(),
            source,
        })?;
    Ok(Listener {
        tcp,
        tls,
        credentials,
    })
}

/// Binds the worker's first `listeners` entry; returns the listener, the address it bound and
/// the worker's id (`host:port` as other workers and status records name it).
pub async fn bind_worker(
    config: &kconnect_actors::config::WorkerConfig,
) -> Result<(Listener, SocketAddr, String), BindError> {
    let listener = config.listeners.first().cloned().unwrap_or_default();
    let listener = bind(&listener, &config.props).await?;
    let addr = listener.local_addr().map_err(BindError::LocalAddr)?;
    let worker_id = crate::standalone::worker_id(&config.props, addr);
    Ok((listener, addr, worker_id))
}

/// Serves the API until `shutdown` completes.
pub async fn serve(
    listener: Listener,
    state: RestState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let addr: Option<SocketAddr> = listener.tcp.local_addr().ok();
    tracing::info!(
        ?addr,
        https = listener.tls.is_some(),
        auth = listener.credentials.is_some(),
        "REST API listening"
    );
    let mut app = router(state);
    if let Some(creds) = listener.credentials {
        app = app.layer(axum::middleware::from_fn_with_state(
            creds,
            security::require_basic_auth,
        ));
    }
    let result = match listener.tls {
        None => {
            axum::serve(listener.tcp, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                h.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
            });
            let config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls));
            match listener.tcp.into_std() {
                Ok(std) => match axum_server::from_tcp_rustls(std, config) {
                    Ok(server) => server.handle(handle).serve(app.into_make_service()).await,
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            }
        }
    };
    if let Err(e) = result {
        tracing::error!("REST server stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    /// `GET /`'s version is the Kafka the interop tests run against.
    #[test]
    fn the_compatible_connect_version_is_the_pinned_kafka() {
        let pom =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/kafka/pom.xml"))
                .unwrap();
        let pinned = pom
            .split("<kafka.version>")
            .nth(1)
            .and_then(|r| r.split("</kafka.version>").next())
            .unwrap();
        assert_eq!(super::KAFKA_CONNECT_VERSION, pinned);
    }
}
