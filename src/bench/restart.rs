//! Restart latency: a source task panics on demand; the time from the panic until the worker's
//! status shows the restarted task RUNNING, with `task.restart.backoff.initial.ms=0`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;

use anyhow::{anyhow, bail};
use kconnect_actors::status::State;
use kconnect_connectors::api::{
    Connector, ConnectorContext, ConnectorKind, Props, SourceTask, SourceTaskContext, TaskInstance,
};
use kconnect_connectors::config::ConfigDef;
use kconnect_connectors::record::SourceRecord;
use kconnect_connectors::registry::{ConnectorPlugin, PluginRegistry};
use kconnect_connectors::ConnectResult;
use tokio::sync::Notify;

use super::inproc::{props, InProcWorker};
use super::{format_value, median, percentile, Plan, Report, Row, Target, Unit};
use crate::embedded_broker::EmbeddedBroker;

/// The bench-only plugin's class name.
pub const PANIC_CLASS: &str = "kconnect.bench.PanicOnDemandSourceConnector";
/// In the message of every injected panic; the bench's panic hook keeps them off stderr.
const PANIC_MARKER: &str = "kconnect bench: injected panic";

/// Wakes the task's `poll`, which then panics.
static TRIGGER: Notify = Notify::const_new();
/// When the last injected panic happened.
static PANICKED_AT: Mutex<Option<Instant>> = Mutex::new(None);

/// A source connector with one task that produces nothing and panics when [`TRIGGER`]ed.
#[derive(Default)]
pub struct PanicOnDemandConnector {
    props: Props,
}

impl Connector for PanicOnDemandConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").into()
    }
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Source
    }
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn start(&mut self, _ctx: ConnectorContext, props: &Props) -> ConnectResult<()> {
        self.props = props.clone();
        Ok(())
    }
    fn task_configs(&self, _max_tasks: usize) -> ConnectResult<Vec<Props>> {
        Ok(vec![self.props.clone()])
    }
    fn stop(&mut self) -> ConnectResult<()> {
        Ok(())
    }
    fn new_task(&self) -> TaskInstance {
        TaskInstance::Source(Box::new(PanicOnDemandTask))
    }
}

pub struct PanicOnDemandTask;

/// What `#[async_trait]` methods return (written out: this crate does not depend on the macro).
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl SourceTask for PanicOnDemandTask {
    fn start<'a, 'b, 'f>(
        &'a mut self,
        _ctx: SourceTaskContext,
        _props: &'b Props,
    ) -> BoxFuture<'f, ConnectResult<()>>
    where
        'a: 'f,
        'b: 'f,
        Self: 'f,
    {
        Box::pin(async { Ok(()) })
    }

    fn poll<'a, 'f>(&'a mut self) -> BoxFuture<'f, ConnectResult<Vec<SourceRecord>>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async {
            // Returns within half a second when idle, as a poll should.
            if tokio::time::timeout(Duration::from_millis(500), TRIGGER.notified())
                .await
                .is_ok()
            {
                *PANICKED_AT.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                panic!("{PANIC_MARKER}");
            }
            Ok(Vec::new())
        })
    }

    fn stop<'a, 'f>(&'a mut self) -> BoxFuture<'f, ConnectResult<()>>
    where
        'a: 'f,
        Self: 'f,
    {
        Box::pin(async { Ok(()) })
    }
}

/// The built-in plugins plus [`PanicOnDemandConnector`].
pub fn registry() -> PluginRegistry {
    let mut r = PluginRegistry::builtin();
    r.register(ConnectorPlugin::new(
        PANIC_CLASS,
        ConnectorKind::Source,
        env!("CARGO_PKG_VERSION"),
        || Box::new(PanicOnDemandConnector::default()),
    ));
    r
}

/// Keeps the injected panics' messages off stderr while alive; other panics print as usual.
struct QuietInjectedPanics(Arc<PanicHook>);

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Sync + Send + 'static>;

impl QuietInjectedPanics {
    fn install() -> QuietInjectedPanics {
        let previous: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        let hook = previous.clone();
        std::panic::set_hook(Box::new(move |info| {
            let injected = info
                .payload()
                .downcast_ref::<String>()
                .is_some_and(|s| s.contains(PANIC_MARKER))
                || info
                    .payload()
                    .downcast_ref::<&str>()
                    .is_some_and(|s| s.contains(PANIC_MARKER));
            if !injected {
                hook(info);
            }
        }));
        QuietInjectedPanics(previous)
    }
}

impl Drop for QuietInjectedPanics {
    fn drop(&mut self) {
        let previous = self.0.clone();
        std::panic::set_hook(Box::new(move |info| previous(info)));
    }
}

pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    let broker = Arc::new(EmbeddedBroker::start()?);
    let w = InProcWorker::start(
        &broker,
        &[
            ("task.restart.backoff.initial.ms", "0"),
            ("task.restart.backoff.jitter", "0"),
            ("task.restart.max.restarts", "1000000"),
        ],
        registry(),
    )
    .await?;
    let quiet = QuietInjectedPanics::install();
    let result = measure(&w, plan.restarts).await;
    drop(quiet);
    w.stop().await;
    drop(broker);
    let samples = result?;
    let (med, p99) = (median(&samples), percentile(&samples, 99.0));
    let max = samples.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "  restart: median {}, p99 {}, max {}",
        format_value(med, Unit::Millis),
        format_value(p99, Unit::Millis),
        format_value(max, Unit::Millis)
    );
    Ok(Report {
        rows: vec![
            Row::with_target(
                "restart: panic → RUNNING, median",
                med,
                Unit::Millis,
                Target::Below(50.0),
            ),
            Row::with_target(
                "restart: panic → RUNNING, p99",
                p99,
                Unit::Millis,
                Target::Below(50.0),
            ),
        ],
        notes: vec![format!(
            "**restart**: {} restarts of a source task (a bench-only plugin, \
             `{PANIC_CLASS}`, in a `PluginRegistry::builtin()` + `register`) whose `poll` panics \
             when told to, in an in-process worker on the embedded broker with \
             `task.restart.backoff.initial.ms=0` and `task.restart.backoff.jitter=0` (the default \
             is 20 ms, which each restart would add). Timed from the instant before `panic!` to the instant \
             `StatusStore::wait_until` sees the task RUNNING with one more restart (no sleeps); \
             this includes the supervisor's failure handling, the new task actor and its new \
             producer. p99 is nearest-rank: with {} samples, the {}th smallest.",
            plan.restarts,
            samples.len(),
            (samples.len() * 99).div_ceil(100).max(1)
        )],
    })
}

async fn measure(w: &InProcWorker, restarts: usize) -> anyhow::Result<Vec<f64>> {
    w.worker
        .add_connector(props(&[
            ("name", "bench-restart"),
            ("connector.class", PANIC_CLASS),
        ]))
        .await
        .map_err(|e| anyhow!("adding the panicking connector: {e}"))?;
    let running_after = |k: u32| {
        move |m: &std::collections::BTreeMap<String, kconnect_actors::status::ConnectorStatus>| {
            m.get("bench-restart")
                .and_then(|c| c.tasks.get(&0))
                .is_some_and(|t| t.state == State::Running && t.restarts == k)
        }
    };
    if !w
        .status()
        .wait_until(Duration::from_secs(30), running_after(0))
        .await
    {
        bail!("the task never ran: {:?}", w.status().get("bench-restart"));
    }
    let mut samples = Vec::with_capacity(restarts);
    for k in 1..=restarts as u32 {
        *PANICKED_AT.lock().unwrap_or_else(|e| e.into_inner()) = None;
        TRIGGER.notify_one();
        let mut seen = None;
        let pred = running_after(k);
        let ok = w
            .status()
            .wait_until(Duration::from_secs(30), |m| {
                let ok = pred(m);
                if ok && seen.is_none() {
                    seen = Some(Instant::now());
                }
                ok
            })
            .await;
        if !ok {
            bail!(
                "restart {k}: the task is not RUNNING again after 30 s: {:?}",
                w.status().get("bench-restart")
            );
        }
        let panicked = PANICKED_AT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ok_or_else(|| anyhow!("restart {k} without a recorded panic"))?;
        let seen = seen.expect("set when the wait succeeded");
        samples.push((seen - panicked).as_secs_f64() * 1000.0);
    }
    Ok(samples)
}
