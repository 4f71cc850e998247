//! The process's Prometheus recorder: installed once, before any worker starts, and rendered by
//! `GET /metrics`.

use std::sync::OnceLock;

use kconnect_actors::metrics as names;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The recorder's handle, installing it on first use. Both modes call it before their worker
/// starts: a task registers its metric handles once, at start, and handles taken before the
/// recorder exists record nothing for the task's whole life. `None` if another recorder was
/// installed first (then `/metrics` answers 404).
pub fn prometheus() -> Option<PrometheusHandle> {
    HANDLE.get_or_init(install).clone()
}

fn install() -> Option<PrometheusHandle> {
    // Histograms (`_bucket`, `_sum`, `_count`) rather than the exporter's default summaries:
    // buckets aggregate across tasks and workers, quantiles do not.
    let handle = PrometheusBuilder::new()
        .set_buckets(names::DURATION_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(names::BATCH_SIZE.into()),
                names::BATCH_SIZE_BUCKETS,
            )
        })
        .ok()?
        .install_recorder()
        .ok()?;
    names::describe();
    Some(handle)
}
