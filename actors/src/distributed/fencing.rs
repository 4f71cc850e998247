//! Zombie fencing for exactly-once source connectors (KIP-618), as Connect's
//! `DistributedHerder` (`fenceZombieSourceTasks`, `startTask`) and `Worker.fenceZombies` do it.
//!
//! A source task with exactly-once support writes through a transactional producer whose
//! `transactional.id` is `<group.id>-<connector>-<task>` ([`transactional_id`]). When a
//! connector's task configs change, the tasks of the previous generation may still run
//! somewhere (a worker paused past its session, cut off from the group): before any task of the
//! new generation starts, the leader *fences* every transactional id of the previous generation,
//! so that none of those producers can ever commit again, then records the new generation's
//! task count in the config topic.
//!
//! ```text
//! leader writes task configs + commit-<c>      ──▶ snapshot: <c> pending fencing
//! a worker assigned tasks of <c> (enabled)     ──▶ starts none of them; asks the leader:
//!     leader itself: HerderMsg::FenceZombies;  follower: PUT /connectors/<c>/fence (signed)
//! leader (one fencing per connector at a time) ──▶ reads the config topic to its end
//!     no tasks-fencing-<c> yet                 ──▶ nothing to fence (no producer ever existed)
//!     previous and new count both 1            ──▶ nothing to fence (the new task's own
//!                                                  InitProducerId fences the old one)
//!     otherwise                                ──▶ InitProducerId for <group>-<c>-0..previous
//!     task configs committed meanwhile?        ──▶ 409, nothing written (a new round follows)
//!     writes tasks-fencing-<c> {"task-count":N} ──▶ snapshot: <c> no longer pending
//! every worker reads the record                ──▶ starts its tasks of <c>
//! ```
//!
//! Fencing is an `InitProducerId` request with the transactional id: the broker bumps the
//! producer epoch and aborts the id's open transaction, so the old producer's next send,
//! commit or abort fails as fenced and nothing of its open transaction reaches a
//! `read_committed` reader. Connect sends it through the admin client (`fenceProducers`,
//! KIP-730); librdkafka has no such admin call, so kconnect makes it the way a producer does:
//! one short-lived transactional producer per id calls `init_transactions` and is dropped.
//! The broker sees the same request.
//!
//! # `exactly.once.source.support`
//!
//! - `disabled` (default): nothing here runs; task count records of others are read and kept.
//! - `preparing`: the step of Connect's upgrade path for an existing cluster (set `preparing` on
//!   every worker, rolling, then `enabled`, rolling). In Connect a `preparing` worker, when it is
//!   the leader, already writes the config topic through a transactional producer
//!   (`connect-cluster-<group.id>`) so that a zombie leader cannot write either, but runs no
//!   exactly-once task and fences nothing; so once some workers are `enabled` every leader they
//!   may have is one they can trust. kconnect's `preparing` fences nothing and starts tasks as
//!   `disabled` does; the transactional config-topic writer is not built yet (see below).
//! - `enabled`: source tasks wait for their connector's fencing as above.
//!
//! # Deviations from Connect
//!
//! - Connect's tasks ask for fencing in their own start (a preflight before their producer's
//!   `initTransactions`, then a check that the task generation and the assignment did not
//!   change). kconnect's herder does the first part before it hands tasks to the worker at all:
//!   a connector pending fencing gets its connector share but no tasks until the task count
//!   record is read, which is the same guarantee. The post-start check belongs to the task
//!   runtime (the transactional task).
//! - The leader does not yet write the config topic through a transactional producer (Connect's
//!   `claimWritePrivileges` for `preparing` and `enabled`), so a zombie *leader* is not fenced.
//! - The fencing producers use the worker's client settings with the connector's
//!   `admin.override.*` keys on top, as Connect's fencing admin client does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kconnect_connectors::api::Props;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, Producer};

use crate::context::WorkerContext;
use crate::storage::kafka::{ConfigSnapshot, KafkaConfigStore};
use crate::worker::WorkerError;

/// How long one fencing request may take (Connect's fencing uses its REST request timeout).
pub const FENCING_TIMEOUT: Duration = Duration::from_secs(90);

pub use crate::exactly_once::transactional_id;
use crate::exactly_once::ExactlyOnceSourceSupport;

#[derive(Debug, thiserror::Error)]
pub enum FencingError {
    #[error("cannot create the producer that fences {transactional_id}: {source}")]
    Client {
        transactional_id: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("cannot fence the producers of transactional id {transactional_id}: {source}")]
    Fence {
        transactional_id: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("a fencing thread failed: {0}")]
    Join(String),
}

/// Fences the transactional producers of `ids`, all at once, each on a blocking thread
/// (`init_transactions` blocks). Returns once every id is fenced, or with the first failure.
pub async fn fence_producers(
    client: &BTreeMap<String, String>,
    ids: Vec<String>,
    timeout: Duration,
) -> Result<(), FencingError> {
    let fences: Vec<_> = ids
        .into_iter()
        .map(|id| {
            let client = client.clone();
            tokio::task::spawn_blocking(move || fence_one(&client, &id, timeout))
        })
        .collect();
    for fence in futures::future::join_all(fences).await {
        fence.map_err(|e| FencingError::Join(e.to_string()))??;
    }
    Ok(())
}

fn fence_one(
    client: &BTreeMap<String, String>,
    transactional_id: &str,
    timeout: Duration,
) -> Result<(), FencingError> {
    let mut config = ClientConfig::new();
    for (k, v) in client {
        config.set(k, v);
    }
    config.set("transactional.id", transactional_id);
    let producer: BaseProducer = config.create().map_err(|source| FencingError::Client {
        transactional_id: transactional_id.to_string(),
        source,
    })?;
    producer
        .init_transactions(timeout)
        .map_err(|source| FencingError::Fence {
            transactional_id: transactional_id.to_string(),
            source,
        })
}

/// What the leader must do for a connector's fencing request, decided on the config topic read
/// to its end (Connect's `fenceZombieSourceTasks` on the leader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FencingPlan {
    /// The last task count record is newer than the last task configs.
    Done,
    /// Write the task count record without fencing: no record yet (no transactional producer
    /// can have existed), or one task before and one now (the new task's own
    /// `init_transactions` fences the old one).
    RecordOnly { task_count: u32 },
    /// Fence the `previous` generation's ids, then record `task_count` unless the task configs
    /// changed past `generation` meanwhile.
    Fence {
        previous: u32,
        task_count: u32,
        generation: u64,
    },
}

pub fn plan(snapshot: &ConfigSnapshot, connector: &str) -> FencingPlan {
    if !snapshot.pending_fencing().contains(connector) {
        return FencingPlan::Done;
    }
    let task_count = snapshot.task_count(connector).unwrap_or(0);
    match snapshot.task_count_record(connector) {
        Some(previous) if !(previous == 1 && task_count == 1) => FencingPlan::Fence {
            previous,
            task_count,
            generation: snapshot.task_config_generation(connector).unwrap_or(0),
        },
        _ => FencingPlan::RecordOnly { task_count },
    }
}

/// The librdkafka settings of the producers that fence a connector's tasks: the worker's
/// client settings, its `admin.*` keys and the connector's `admin.override.*` keys (Connect
/// fences through the connector's admin client).
pub fn fencing_client(ctx: &WorkerContext, connector: &Props) -> BTreeMap<String, String> {
    match crate::config::ConnectorConfig::parse(connector.clone(), &ctx.config.restart) {
        Ok(c) => crate::config::admin_client_props(&ctx.config, &c, &ctx.bootstrap_servers),
        // A config that no longer parses still has tasks to fence: the worker's settings.
        Err(_) => crate::config::worker_client_props(&ctx.config, &ctx.bootstrap_servers)
            .into_iter()
            .collect(),
    }
}

/// What the fencing part of a leader's round leaves for the herder to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced {
    pub task_count: u32,
    /// The task config generation the round was planned for: the record is written only if no
    /// other configs were committed meanwhile (Connect plans and writes a round without fencing
    /// in one step of its herder thread, so it needs no such check there).
    pub generation: Option<u64>,
}

/// The leader's round, off the herder's mailbox: reads the config topic to its end, then fences
/// what [`plan`] says. `None`: nothing to do, the last record is current.
pub async fn fence_round(
    configs: Arc<KafkaConfigStore>,
    client: BTreeMap<String, String>,
    group_id: String,
    connector: String,
) -> Result<Option<Fenced>, WorkerError> {
    let store = configs.clone();
    tokio::task::spawn_blocking(move || store.refresh())
        .await
        .map_err(internal)?
        .map_err(|e| {
            WorkerError::Internal(format!(
                "Failed to read to end of config topic before performing zombie fencing: {e}"
            ))
        })?;
    let snapshot = configs.snapshot();
    let planned_for = snapshot.task_config_generation(&connector);
    match plan(&snapshot, &connector) {
        FencingPlan::Done => {
            tracing::debug!(%connector, "no zombie fencing: the old generations are fenced already");
            Ok(None)
        }
        FencingPlan::RecordOnly { task_count } => Ok(Some(Fenced {
            task_count,
            generation: planned_for,
        })),
        FencingPlan::Fence {
            previous,
            task_count,
            generation: _,
        } => {
            let ids: Vec<String> = (0..previous)
                .map(|t| transactional_id(&group_id, &connector, t))
                .collect();
            tracing::info!(%connector, tasks = previous, "fencing the producers of the previous task generation");
            fence_producers(&client, ids, FENCING_TIMEOUT)
                .await
                .map_err(|e| {
                    WorkerError::Internal(format!("Failed to perform zombie fencing: {e}"))
                })?;
            Ok(Some(Fenced {
                task_count,
                generation: planned_for,
            }))
        }
    }
}

/// The end of a round, in the herder actor (so it is ordered with the leader's task config
/// writes): the task count record, unless task configs were committed while the producers
/// were fenced (409, as Connect answers; the new configs need a round of their own).
pub async fn record_round(
    configs: Arc<KafkaConfigStore>,
    connector: String,
    fenced: Fenced,
) -> Result<(), WorkerError> {
    tokio::task::spawn_blocking(move || {
        configs.refresh().map_err(internal)?;
        let snapshot = configs.snapshot();
        if snapshot.task_config_generation(&connector) != fenced.generation {
            return Err(WorkerError::Conflict(
                "Fencing failed because new task configurations were generated for the connector"
                    .into(),
            ));
        }
        if !snapshot.pending_fencing().contains(&connector) {
            return Ok(());
        }
        configs
            .put_task_count_record(&connector, fenced.task_count)
            .map_err(internal)
    })
    .await
    .map_err(internal)?
}

fn internal(e: impl std::fmt::Display) -> WorkerError {
    WorkerError::Internal(e.to_string())
}

/// Whether a worker in `support` mode must hold back tasks of this connector: exactly-once is
/// enabled, the connector is a source, and its last task configs were not fenced for yet.
pub fn must_wait(
    support: ExactlyOnceSourceSupport,
    is_source: bool,
    snapshot: &ConfigSnapshot,
    connector: &str,
) -> bool {
    support == ExactlyOnceSourceSupport::Enabled
        && is_source
        && snapshot.pending_fencing().contains(connector)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::kafka::ConfigRecord;

    /// Connector `c` with `tasks` task configs committed, at offset `at`.
    fn commit(s: &mut ConfigSnapshot, at: &mut i64, tasks: u32) {
        for t in 0..tasks {
            s.apply(
                *at,
                ConfigRecord::TaskConfig {
                    connector: "c".into(),
                    task: t,
                    config: Some(Props::new()),
                },
            );
            *at += 1;
        }
        s.apply(
            *at,
            ConfigRecord::Commit {
                connector: "c".into(),
                tasks,
            },
        );
        *at += 1;
    }

    fn record(s: &mut ConfigSnapshot, at: &mut i64, task_count: u32) {
        s.apply(
            *at,
            ConfigRecord::TaskCount {
                connector: "c".into(),
                task_count,
            },
        );
        *at += 1;
    }

    #[test]
    fn transactional_ids_are_connects() {
        assert_eq!(
            transactional_id("connect-cluster", "my-source", 3),
            "connect-cluster-my-source-3"
        );
    }

    #[test]
    fn the_leader_fences_the_previous_generation_only_when_it_must() {
        let mut s = ConfigSnapshot::new();
        let mut at = 0;
        s.apply(
            at,
            ConfigRecord::ConnectorConfig {
                connector: "c".into(),
                config: Some(Props::new()),
            },
        );
        at += 1;
        // Not committed yet: nothing pending.
        assert_eq!(plan(&s, "c"), FencingPlan::Done);
        assert!(!must_wait(ExactlyOnceSourceSupport::Enabled, true, &s, "c"));

        // First tasks ever: no producer can exist, only the record is written.
        commit(&mut s, &mut at, 3);
        assert_eq!(plan(&s, "c"), FencingPlan::RecordOnly { task_count: 3 });
        assert!(must_wait(ExactlyOnceSourceSupport::Enabled, true, &s, "c"));
        // Only an enabled worker, and only for a source, waits.
        assert!(!must_wait(
            ExactlyOnceSourceSupport::Preparing,
            true,
            &s,
            "c"
        ));
        assert!(!must_wait(
            ExactlyOnceSourceSupport::Disabled,
            true,
            &s,
            "c"
        ));
        assert!(!must_wait(
            ExactlyOnceSourceSupport::Enabled,
            false,
            &s,
            "c"
        ));
        record(&mut s, &mut at, 3);
        assert_eq!(plan(&s, "c"), FencingPlan::Done);
        assert!(!must_wait(ExactlyOnceSourceSupport::Enabled, true, &s, "c"));

        // New configs, two tasks: the three of the last record are fenced.
        commit(&mut s, &mut at, 2);
        assert_eq!(
            plan(&s, "c"),
            FencingPlan::Fence {
                previous: 3,
                task_count: 2,
                generation: 1
            }
        );
        record(&mut s, &mut at, 2);

        // One task before (record 2 says two): still fenced.
        commit(&mut s, &mut at, 1);
        assert_eq!(
            plan(&s, "c"),
            FencingPlan::Fence {
                previous: 2,
                task_count: 1,
                generation: 2
            }
        );
        record(&mut s, &mut at, 1);
        // One task to one task: the new producer fences its predecessor itself.
        commit(&mut s, &mut at, 1);
        assert_eq!(plan(&s, "c"), FencingPlan::RecordOnly { task_count: 1 });
        record(&mut s, &mut at, 1);
        // One to zero still fences the one.
        commit(&mut s, &mut at, 0);
        assert_eq!(
            plan(&s, "c"),
            FencingPlan::Fence {
                previous: 1,
                task_count: 0,
                generation: 4
            }
        );
    }
}
