//! Fault injection, configured per connector with `faults.*` keys and off unless one is set.
//! The task actors consult a [`FaultInjector`] around each `poll` / `put` and each record
//! conversion, so faults travel the same paths real ones do: a panic or error fails the task
//! and its supervisor restarts it. Every injected fault is logged at WARN and counted in
//! `kconnect_faults_injected_total{connector,task,fault}`.

use std::time::{Duration, Instant};

use kconnect_connectors::api::Props;
use kconnect_connectors::config::{ConfigDef, ConfigType, Importance, Validator};
use kconnect_connectors::ConnectError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const PANIC_AFTER_RECORDS: &str = "faults.task.panic.after.records";
pub const ERROR_AFTER_RECORDS: &str = "faults.task.error.after.records";
pub const PANIC_EVERY_MS: &str = "faults.task.panic.every.ms";
pub const ERROR_EVERY_MS: &str = "faults.task.error.every.ms";
pub const PANIC_PROBABILITY: &str = "faults.task.panic.probability";
pub const ERROR_PROBABILITY: &str = "faults.task.error.probability";
pub const PUT_RETRIABLE_PROBABILITY: &str = "faults.put.retriable.error.probability";
pub const SEED: &str = "faults.seed";
pub const POLL_DELAY_MS: &str = "faults.poll.delay.ms";
pub const PUT_DELAY_MS: &str = "faults.put.delay.ms";
pub const CONVERTER_FAIL_EVERY: &str = "faults.converter.fail.every.records";
pub const CONVERTER_FAIL_RECORDS: &str = "faults.converter.fail.records";
pub const TASKS: &str = "faults.tasks";

/// The `faults.*` keys, for validation and documentation.
pub fn fault_keys(def: ConfigDef) -> ConfigDef {
    let d = |def: ConfigDef, key: &str, ty: ConfigType, v: Option<Validator>, doc: &str| {
        let def = def.define_optional(key, ty, Importance::Low, doc);
        match v {
            Some(v) => def.with_validator(v),
            None => def,
        }
    };
    let def = d(def, PANIC_AFTER_RECORDS, ConfigType::Long, Some(Validator::at_least(1.0)),
        "Fault injection: a task panics once it has handled this many records since it (re)started.");
    let def = d(def, ERROR_AFTER_RECORDS, ConfigType::Long, Some(Validator::at_least(1.0)),
        "Fault injection: a task fails with an error once it has handled this many records since it (re)started.");
    let def = d(
        def,
        PANIC_EVERY_MS,
        ConfigType::Long,
        Some(Validator::at_least(1.0)),
        "Fault injection: a task panics this many ms after it (re)started.",
    );
    let def = d(
        def,
        ERROR_EVERY_MS,
        ConfigType::Long,
        Some(Validator::at_least(1.0)),
        "Fault injection: a task fails with an error this many ms after it (re)started.",
    );
    let def = d(
        def,
        PANIC_PROBABILITY,
        ConfigType::Double,
        Some(Validator::between(0.0, 1.0)),
        "Fault injection: probability that a poll/put panics (seeded by faults.seed).",
    );
    let def = d(
        def,
        ERROR_PROBABILITY,
        ConfigType::Double,
        Some(Validator::between(0.0, 1.0)),
        "Fault injection: probability that a poll/put fails with an error (seeded by faults.seed).",
    );
    let def = d(def, PUT_RETRIABLE_PROBABILITY, ConfigType::Double, Some(Validator::between(0.0, 1.0)),
        "Fault injection: probability that a sink put fails with a retriable error (the runtime retries the batch).");
    let def = d(
        def,
        SEED,
        ConfigType::Long,
        None,
        "Fault injection: seed of the random faults (each task adds its id), for repeatable runs.",
    );
    let def = d(
        def,
        POLL_DELAY_MS,
        ConfigType::Long,
        Some(Validator::at_least(0.0)),
        "Fault injection: every poll of a source task is delayed this long.",
    );
    let def = d(
        def,
        PUT_DELAY_MS,
        ConfigType::Long,
        Some(Validator::at_least(0.0)),
        "Fault injection: every put of a sink task is delayed this long.",
    );
    let def = d(
        def,
        CONVERTER_FAIL_EVERY,
        ConfigType::Long,
        Some(Validator::at_least(1.0)),
        "Fault injection: every Nth record a task converts fails conversion.",
    );
    let def = d(
        def,
        CONVERTER_FAIL_RECORDS,
        ConfigType::List,
        None,
        "Fault injection: the (0-based, per task incarnation) record numbers that fail conversion.",
    );
    d(
        def,
        TASKS,
        ConfigType::List,
        None,
        "Fault injection: the task ids the faults apply to (default: every task).",
    )
}

/// A connector's fault settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultConfig {
    pub panic_after_records: Option<u64>,
    pub error_after_records: Option<u64>,
    pub panic_every: Option<Duration>,
    pub error_every: Option<Duration>,
    pub panic_probability: f64,
    pub error_probability: f64,
    pub put_retriable_probability: f64,
    pub seed: u64,
    pub poll_delay: Option<Duration>,
    pub put_delay: Option<Duration>,
    pub converter_fail_every: Option<u64>,
    pub converter_fail_records: Vec<u64>,
    pub tasks: Option<Vec<u32>>,
}

fn num<T: std::str::FromStr>(props: &Props, key: &str) -> Result<Option<T>, ConnectError> {
    props
        .get(key)
        .map(|v| {
            v.trim().parse().map_err(|_| {
                ConnectError::config(format!("Invalid value {v} for configuration {key}"))
            })
        })
        .transpose()
}

fn list<T: std::str::FromStr>(props: &Props, key: &str) -> Result<Option<Vec<T>>, ConnectError> {
    props
        .get(key)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse().map_err(|_| {
                        ConnectError::config(format!("Invalid value {v} for configuration {key}"))
                    })
                })
                .collect()
        })
        .transpose()
}

impl FaultConfig {
    /// `None` when no `faults.*` key is set: the common case costs nothing.
    pub fn parse(props: &Props) -> Result<Option<FaultConfig>, ConnectError> {
        if !props.keys().any(|k| k.starts_with("faults.")) {
            return Ok(None);
        }
        let ms = |k| num::<u64>(props, k).map(|v| v.map(Duration::from_millis));
        Ok(Some(FaultConfig {
            panic_after_records: num(props, PANIC_AFTER_RECORDS)?,
            error_after_records: num(props, ERROR_AFTER_RECORDS)?,
            panic_every: ms(PANIC_EVERY_MS)?,
            error_every: ms(ERROR_EVERY_MS)?,
            panic_probability: num(props, PANIC_PROBABILITY)?.unwrap_or(0.0),
            error_probability: num(props, ERROR_PROBABILITY)?.unwrap_or(0.0),
            put_retriable_probability: num(props, PUT_RETRIABLE_PROBABILITY)?.unwrap_or(0.0),
            seed: num(props, SEED)?.unwrap_or(0),
            poll_delay: ms(POLL_DELAY_MS)?,
            put_delay: ms(PUT_DELAY_MS)?,
            converter_fail_every: num(props, CONVERTER_FAIL_EVERY)?,
            converter_fail_records: list(props, CONVERTER_FAIL_RECORDS)?.unwrap_or_default(),
            tasks: list(props, TASKS)?,
        }))
    }
}

/// What a fault does to the call it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Panic,
    Error,
}

/// Counts one injected fault.
fn count(connector: &str, task: u32, fault: &'static str) {
    metrics::counter!(crate::metrics::FAULTS,
        "connector" => connector.to_string(), "task" => task.to_string(), "fault" => fault)
    .increment(1);
}

/// Fires a fault requested from outside (the REST API): logged, counted, then a panic or an
/// error, exactly as a configured fault would be.
pub fn inject(connector: &str, task: u32, kind: FaultKind) -> Result<(), ConnectError> {
    let name = match kind {
        FaultKind::Panic => "panic",
        FaultKind::Error => "error",
    };
    tracing::warn!(
        connector,
        task,
        fault = name,
        "injecting a fault requested over REST"
    );
    count(connector, task, name);
    match kind {
        FaultKind::Panic => panic!("injected fault: {name} requested over REST"),
        FaultKind::Error => Err(ConnectError::other(format!(
            "injected fault: {name} requested over REST"
        ))),
    }
}

/// One task incarnation's faults: counts restart with the task, as a crash would reset them.
pub struct FaultInjector {
    config: FaultConfig,
    connector: String,
    task: u32,
    started: Instant,
    records: u64,
    converted: u64,
    rng: StdRng,
}

impl FaultInjector {
    /// The injector for `task`'s incarnation after `restarts` restarts, or `None` if no fault
    /// applies to it. Random faults draw from `faults.seed` + task id + restart count: a run is
    /// repeatable, yet a restarted task does not replay the fault that killed it forever.
    pub fn for_task(
        config: Option<&FaultConfig>,
        connector: &str,
        task: u32,
        restarts: u32,
    ) -> Option<Self> {
        let config = config?;
        if config.tasks.as_ref().is_some_and(|t| !t.contains(&task)) {
            return None;
        }
        Some(FaultInjector {
            rng: StdRng::seed_from_u64(
                config
                    .seed
                    .wrapping_add(u64::from(task))
                    .wrapping_add(u64::from(restarts).wrapping_mul(1_000_003)),
            ),
            config: config.clone(),
            connector: connector.to_string(),
            task,
            started: Instant::now(),
            records: 0,
            converted: 0,
        })
    }

    fn fire(&self, kind: FaultKind, what: &str) -> Result<(), ConnectError> {
        let name = match kind {
            FaultKind::Panic => "panic",
            FaultKind::Error => "error",
        };
        tracing::warn!(fault = name, "injecting a fault: {what}");
        count(&self.connector, self.task, name);
        match kind {
            FaultKind::Panic => panic!("injected fault: {what}"),
            FaultKind::Error => Err(ConnectError::other(format!("injected fault: {what}"))),
        }
    }

    /// Before a `poll` (`put` when `is_put`): the configured delay, then time-based and
    /// random faults.
    pub async fn before_call(&mut self, is_put: bool) -> Result<(), ConnectError> {
        let delay = if is_put {
            self.config.put_delay
        } else {
            self.config.poll_delay
        };
        if let Some(d) = delay {
            count(&self.connector, self.task, "delay");
            tokio::time::sleep(d).await;
        }
        let up = self.started.elapsed();
        if let Some(t) = self.config.panic_every.filter(|t| up >= *t) {
            self.fire(
                FaultKind::Panic,
                &format!("panic {} ms after start", t.as_millis()),
            )?;
        }
        if let Some(t) = self.config.error_every.filter(|t| up >= *t) {
            self.fire(
                FaultKind::Error,
                &format!("error {} ms after start", t.as_millis()),
            )?;
        }
        let op = if is_put { "put" } else { "poll" };
        if self.config.panic_probability > 0.0
            && self.rng.random_bool(self.config.panic_probability)
        {
            self.fire(FaultKind::Panic, &format!("random panic in {op}"))?;
        }
        if self.config.error_probability > 0.0
            && self.rng.random_bool(self.config.error_probability)
        {
            self.fire(FaultKind::Error, &format!("random error in {op}"))?;
        }
        let p = self.config.put_retriable_probability;
        if is_put && p > 0.0 && self.rng.random_bool(p) {
            tracing::warn!(
                fault = "retriable",
                "injecting a fault: retriable put error"
            );
            count(&self.connector, self.task, "retriable");
            return Err(ConnectError::Retriable(
                "injected fault: retriable put error".into(),
            ));
        }
        Ok(())
    }

    /// Counts records handled; fails once a record-count threshold is reached.
    pub fn after_records(&mut self, n: usize) -> Result<(), ConnectError> {
        self.records += n as u64;
        if let Some(limit) = self
            .config
            .panic_after_records
            .filter(|l| self.records >= *l)
        {
            self.fire(FaultKind::Panic, &format!("panic after {limit} records"))?;
        }
        if let Some(limit) = self
            .config
            .error_after_records
            .filter(|l| self.records >= *l)
        {
            self.fire(FaultKind::Error, &format!("error after {limit} records"))?;
        }
        Ok(())
    }

    /// Whether the next record's conversion fails (counted per incarnation, from 0).
    pub fn converter_fails(&mut self) -> bool {
        let n = self.converted;
        self.converted += 1;
        let hit = self.config.converter_fail_records.contains(&n)
            || self
                .config
                .converter_fail_every
                .is_some_and(|e| (n + 1) % e == 0);
        if hit {
            tracing::warn!(
                fault = "converter",
                record = n,
                "injecting a fault: conversion failure"
            );
            count(&self.connector, self.task, "converter");
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> FaultConfig {
        let p: Props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FaultConfig::parse(&p).unwrap().unwrap()
    }

    #[test]
    fn no_fault_keys_means_no_injector() {
        assert_eq!(FaultConfig::parse(&Props::new()).unwrap(), None);
    }

    #[test]
    fn errors_after_n_records() {
        let c = cfg(&[(ERROR_AFTER_RECORDS, "10")]);
        let mut f = FaultInjector::for_task(Some(&c), "c", 0, 0).unwrap();
        assert!(f.after_records(9).is_ok());
        let e = f.after_records(1).unwrap_err();
        assert!(e.to_string().contains("injected fault"), "{e}");
    }

    #[test]
    #[should_panic(expected = "injected fault: panic after 3 records")]
    fn panics_after_n_records() {
        let c = cfg(&[(PANIC_AFTER_RECORDS, "3")]);
        let mut f = FaultInjector::for_task(Some(&c), "c", 0, 0).unwrap();
        let _ = f.after_records(3);
    }

    #[test]
    fn only_listed_tasks_get_faults() {
        let c = cfg(&[(ERROR_AFTER_RECORDS, "1"), (TASKS, "1,2")]);
        assert!(FaultInjector::for_task(Some(&c), "c", 0, 0).is_none());
        assert!(FaultInjector::for_task(Some(&c), "c", 2, 0).is_some());
    }

    #[tokio::test]
    async fn random_faults_repeat_with_the_same_seed() {
        let c = cfg(&[(ERROR_PROBABILITY, "0.3"), (SEED, "42")]);
        let run = || async {
            let mut f = FaultInjector::for_task(Some(&c), "c", 1, 0).unwrap();
            let mut hits = Vec::new();
            for i in 0..100 {
                if f.before_call(false).await.is_err() {
                    hits.push(i);
                }
            }
            hits
        };
        let (a, b) = (run().await, run().await);
        assert_eq!(a, b);
        assert!((15..=45).contains(&a.len()), "{} of 100", a.len());
    }

    #[test]
    fn converter_fails_on_chosen_records() {
        let c = cfg(&[
            (CONVERTER_FAIL_RECORDS, "1,4"),
            (CONVERTER_FAIL_EVERY, "10"),
        ]);
        let mut f = FaultInjector::for_task(Some(&c), "c", 0, 0).unwrap();
        let hits: Vec<u64> = (0..20).filter(|_| f.converter_fails()).map(|_| 0).collect();
        // records 1, 4, 9 and 19 fail
        assert_eq!(hits.len(), 4);
    }
}
