//! Incremental cooperative assignment of connectors and tasks to workers (KIP-415), as Kafka
//! Connect's `IncrementalCooperativeAssignor` computes it on the group leader.
//!
//! Each member reports its current allocation in its JoinGroup metadata. From those, the
//! configured connectors/tasks and its memory of the previous round, the leader derives:
//!
//! * **deleted** work (allocated or previously assigned, no longer configured): revoked;
//! * **duplicated** work (held by more than one member): revoked from every holder and handed
//!   out again as new work in the follow-up round;
//! * **lost** work (in the previous assignment, held by nobody now): reassigned at once when
//!   `scheduled.rebalance.max.delay.ms` is 0 or no member left; otherwise held back until the
//!   scheduled rebalance expires and then given to the workers that joined empty in the meantime
//!   ("candidate workers") or, if there are none, balanced like new work. While waiting, every
//!   assignment carries the remaining `delay_ms` so members rejoin when it expires;
//! * **new** work (configured, neither held nor lost): given to the least loaded members,
//!   connectors and tasks balanced separately (water-filling from the least loaded, ties by
//!   member id);
//! * **load-balancing revocations**: when no scheduled rebalance is pending, members holding
//!   more than their fair share give up just enough work that the follow-up round can bring
//!   connector counts and task counts (separately) within 1 of each other.
//!
//! Assignments are incremental, as in Connect (`ClusterAssignment.newlyAssignedConnectors/Tasks`
//! and `WorkerCoordinator.onJoinComplete`): an assignment's `connectors`/`tasks` hold only the
//! work *newly* given to the member in this round; the member keeps everything else it runs
//! except `revoked_connectors`/`revoked_tasks` (see `protocol::apply_assignment`).
//!
//! Differences from Connect, all deliberate:
//! * deleted work is everything allocated *or* previously assigned that is no longer
//!   configured (Connect looks only at its previous assignment, so a new leader would not revoke
//!   a deleted connector still reported by a member);
//! * when the leader's memory is stale (its previous generation is not the last generation it
//!   completed), the previous assignment is rebuilt from the members' reported allocations;
//!   Connect empties it instead, which yields the same lost (none) and new work;
//! * everything is iterated in sorted order (member id, connector, task) so results are
//!   deterministic; among over-loaded members, the least loaded ones keep the "+1" slots, so
//!   revocations concentrate on the most loaded; a member gives up work it was only just handed
//!   this round (lost work given to a candidate) before work it runs, and such not-yet-running
//!   work is simply not handed out rather than listed as revoked.

use std::collections::{BTreeMap, BTreeSet};

use super::protocol::{Assignment, TaskId, WorkerMetadata};

/// Everything the leader knows when it computes an assignment.
#[derive(Debug, Clone, Copy)]
pub struct AssignorInput<'a> {
    /// The leader's member id.
    pub leader_id: &'a str,
    /// The leader's REST URL.
    pub leader_url: &'a str,
    /// The config offset the assignment is computed at (the caller resolves config mismatches,
    /// see [`config_mismatch_assignments`]).
    pub config_offset: i64,
    /// The members of this generation and their metadata (with their current allocations).
    pub members: &'a BTreeMap<String, WorkerMetadata>,
    /// The configured connectors and their task counts.
    pub configured: &'a BTreeMap<String, u32>,
    /// Wall clock, in milliseconds.
    pub now_ms: u64,
    /// The generation of the last rebalance this worker completed (its SyncGroup succeeded and
    /// it applied the assignment), or -1; Connect's `WorkerCoordinator.lastCompletedGenerationId`.
    /// When it is not the generation of the assignor's last computation, the leader missed a
    /// round (or just became leader) and its memory is rebuilt from the members' allocations.
    pub last_completed_generation: i32,
}

/// A set of connectors and tasks (Connect's `ConnectorsAndTasks`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Work {
    connectors: BTreeSet<String>,
    tasks: BTreeSet<TaskId>,
}

impl Work {
    fn is_empty(&self) -> bool {
        self.connectors.is_empty() && self.tasks.is_empty()
    }
    fn extend(&mut self, other: &Work) {
        self.connectors.extend(other.connectors.iter().cloned());
        self.tasks.extend(other.tasks.iter().cloned());
    }
    fn minus(&self, other: &Work) -> Work {
        Work {
            connectors: self
                .connectors
                .difference(&other.connectors)
                .cloned()
                .collect(),
            tasks: self.tasks.difference(&other.tasks).cloned().collect(),
        }
    }
    fn intersect(&self, other: &Work) -> Work {
        Work {
            connectors: self
                .connectors
                .intersection(&other.connectors)
                .cloned()
                .collect(),
            tasks: self.tasks.intersection(&other.tasks).cloned().collect(),
        }
    }
    fn intersects(&self, other: &Work) -> bool {
        !self.connectors.is_disjoint(&other.connectors) || !self.tasks.is_disjoint(&other.tasks)
    }
}

/// One member's work as the round's assignment is being built (Connect's `WorkerLoad`).
#[derive(Debug, Clone)]
struct Load {
    member: String,
    work: Work,
}

/// The leader's incremental cooperative assignor; keep one per worker for the worker's lifetime
/// (its memory between rounds matters when the worker is or becomes the leader).
#[derive(Debug, Clone)]
pub struct IncrementalAssignor {
    max_delay_ms: u64,
    /// What the leader assigned last round, plus lost work still waiting for reassignment.
    previous_assignment: Work,
    /// What the leader revoked last round (to detect revocations that did not take effect).
    previous_revocation: Work,
    /// Whether the previous round performed load-balancing revocations.
    revoked_in_previous: bool,
    /// Consecutive rounds wanting load-balancing revocations (drives the backoff).
    successive_revoking_rebalances: u32,
    /// Members that joined empty while lost work was waiting.
    candidate_workers: BTreeSet<String>,
    /// Deadline of the scheduled rebalance, 0 when none.
    scheduled_rebalance_ms: u64,
    /// The delay handed to members in this round's assignments.
    delay_ms: u64,
    /// The generation of the last computation, -1 before the first.
    previous_generation: i32,
    previous_members: BTreeSet<String>,
}

impl IncrementalAssignor {
    /// `max_delay_ms` is `scheduled.rebalance.max.delay.ms` (Connect's default is 300000).
    pub fn new(max_delay_ms: u64) -> Self {
        IncrementalAssignor {
            max_delay_ms,
            previous_assignment: Work::default(),
            previous_revocation: Work::default(),
            revoked_in_previous: false,
            successive_revoking_rebalances: 0,
            candidate_workers: BTreeSet::new(),
            scheduled_rebalance_ms: 0,
            delay_ms: 0,
            previous_generation: -1,
            previous_members: BTreeSet::new(),
        }
    }

    /// The deadline of the scheduled rebalance, if lost work (or a revocation backoff) is
    /// waiting.
    pub fn scheduled_rebalance_ms(&self) -> Option<u64> {
        (self.scheduled_rebalance_ms > 0).then_some(self.scheduled_rebalance_ms)
    }

    /// Computes the assignments of `generation` for every member of `input.members`
    /// (`IncrementalCooperativeAssignor.performTaskAssignment`).
    pub fn assign(
        &mut self,
        input: &AssignorInput<'_>,
        generation: i32,
    ) -> BTreeMap<String, Assignment> {
        if input.members.is_empty() {
            return BTreeMap::new();
        }
        let now = input.now_ms;

        let allocations: BTreeMap<&str, Work> = input
            .members
            .iter()
            .map(|(id, m)| {
                let work = m
                    .allocation
                    .as_ref()
                    .map(|a| Work {
                        connectors: a.connectors.clone(),
                        tasks: a.tasks.clone(),
                    })
                    .unwrap_or_default();
                (id.as_str(), work)
            })
            .collect();
        let mut active = Work::default();
        for w in allocations.values() {
            active.extend(w);
        }
        let configured = Work {
            connectors: input.configured.keys().cloned().collect(),
            tasks: input
                .configured
                .iter()
                .flat_map(|(c, n)| (0..*n).map(move |t| TaskId::new(c.clone(), t)))
                .collect(),
        };

        if self.previous_generation != input.last_completed_generation {
            // The last computed assignment never completed (or this worker just became
            // leader): trust what the members report.
            self.previous_assignment = active.clone();
        }
        if !self.previous_revocation.is_empty() {
            if self.previous_revocation.intersects(&active) {
                // A revocation did not take effect; start again from what is running.
                self.previous_assignment = active.clone();
            }
            self.previous_revocation = Work::default();
        }

        let mut known = self.previous_assignment.clone();
        known.extend(&active);
        let deleted = known.minus(&configured);
        let duplicated = duplicated(&allocations);
        let lost = self.previous_assignment.minus(&active).minus(&deleted);
        let created = configured.minus(&self.previous_assignment).minus(&active);

        // Each member's work excluding deleted work (to compute what is newly assigned).
        let current: BTreeMap<&str, Work> = allocations
            .iter()
            .map(|(m, w)| (*m, w.minus(&deleted)))
            .collect();

        let mut drop = deleted.clone();
        drop.extend(&duplicated);
        let mut to_revoke: BTreeMap<&str, Work> = allocations
            .iter()
            .map(|(m, w)| (*m, w.intersect(&drop)))
            .collect();

        // The assignment after this round; grows with new and lost work, shrinks with
        // load-balancing revocations.
        let mut next: Vec<Load> = allocations
            .iter()
            .map(|(m, w)| Load {
                member: m.to_string(),
                work: w.minus(&drop),
            })
            .collect();

        let lost_to_reassign = self.handle_lost(&lost, &mut next, now);

        // No load-balancing revocations while a scheduled rebalance is pending.
        if self.delay_ms == 0 {
            let balancing = load_balancing_revocations(&configured, &next, &current);
            if self.revoked_in_previous && !balancing.is_empty() {
                // Revoking again right after a revoking round: back off exponentially
                // (KAFKA-12495), unless delays are disabled.
                self.successive_revoking_rebalances += 1;
                self.delay_ms =
                    revocation_backoff(self.max_delay_ms, self.successive_revoking_rebalances);
                if self.delay_ms != 0 {
                    self.scheduled_rebalance_ms = now.saturating_add(self.delay_ms);
                } else {
                    apply_revocations(&balancing, &mut next, &current, &mut to_revoke);
                }
            } else if !balancing.is_empty() {
                apply_revocations(&balancing, &mut next, &current, &mut to_revoke);
                self.revoked_in_previous = true;
            } else if self.revoked_in_previous {
                // The previous round's revocations led to a balanced load.
                self.revoked_in_previous = false;
                self.successive_revoking_rebalances = 0;
            }
        } else {
            self.revoked_in_previous = false;
        }

        // New work first, then lost work being reassigned (each in sorted order).
        let mut connectors: Vec<String> = created.connectors.iter().cloned().collect();
        connectors.extend(
            lost_to_reassign
                .connectors
                .difference(&created.connectors)
                .cloned(),
        );
        let mut tasks: Vec<TaskId> = created.tasks.iter().cloned().collect();
        tasks.extend(lost_to_reassign.tasks.difference(&created.tasks).cloned());
        fill(
            &mut next,
            connectors,
            |l| l.work.connectors.len(),
            |l, c| {
                l.work.connectors.insert(c);
            },
        );
        fill(
            &mut next,
            tasks,
            |l| l.work.tasks.len(),
            |l, t| {
                l.work.tasks.insert(t);
            },
        );

        // Remember this round.
        let mut previous = Work::default();
        for l in &next {
            previous.extend(&l.work);
        }
        previous.extend(&lost);
        self.previous_assignment = previous;
        self.previous_revocation = Work::default();
        for w in to_revoke.values() {
            self.previous_revocation.extend(w);
        }
        self.previous_generation = generation;
        self.previous_members = input.members.keys().cloned().collect();

        let delay = i32::try_from(self.delay_ms).unwrap_or(i32::MAX);
        next.into_iter()
            .map(|l| {
                let cur = &current[l.member.as_str()];
                let added = l.work.minus(cur);
                let revoked = to_revoke.remove(l.member.as_str()).unwrap_or_default();
                let a = Assignment {
                    error: Assignment::NO_ERROR,
                    leader: input.leader_id.to_string(),
                    leader_url: input.leader_url.to_string(),
                    config_offset: input.config_offset,
                    connectors: added.connectors,
                    tasks: added.tasks,
                    revoked_connectors: revoked.connectors,
                    revoked_tasks: revoked.tasks,
                    delay_ms: delay,
                };
                (l.member, a)
            })
            .collect()
    }

    /// Decides what happens to lost work (`handleLostAssignments`): returns the lost work to
    /// balance like new work this round; may instead give it to candidate workers directly in
    /// `next`, or hold it back and (re)schedule a rebalance.
    fn handle_lost(&mut self, lost: &Work, next: &mut [Load], now: u64) -> Work {
        if lost.is_empty() && !self.revoked_in_previous {
            self.reset_delay();
            return Work::default();
        }
        let present: BTreeSet<&str> = next.iter().map(|l| l.member.as_str()).collect();
        if self.scheduled_rebalance_ms == 0
            && self
                .previous_members
                .iter()
                .all(|m| present.contains(m.as_str()))
        {
            // Nobody left: the work was probably assigned in a round some members never
            // completed. Reassign it as new.
            return lost.clone();
        }
        if self.max_delay_ms == 0 {
            return lost.clone();
        }
        if self.scheduled_rebalance_ms > 0 && now >= self.scheduled_rebalance_ms {
            // The departed workers did not come back in time.
            let candidates: Vec<usize> = next
                .iter()
                .enumerate()
                .filter(|(_, l)| self.candidate_workers.contains(&l.member))
                .map(|(i, _)| i)
                .collect();
            let mut to_reassign = Work::default();
            if candidates.is_empty() {
                to_reassign = lost.clone();
            } else {
                for (c, &i) in lost.connectors.iter().zip(candidates.iter().cycle()) {
                    next[i].work.connectors.insert(c.clone());
                }
                for (t, &i) in lost.tasks.iter().zip(candidates.iter().cycle()) {
                    next[i].work.tasks.insert(t.clone());
                }
            }
            self.reset_delay();
            self.revoked_in_previous = false;
            return to_reassign;
        }
        // Keep waiting; members that are empty now may take the lost work when time is up.
        self.candidate_workers.extend(
            next.iter()
                .filter(|l| l.work.is_empty())
                .map(|l| l.member.clone()),
        );
        self.delay_ms = if now < self.scheduled_rebalance_ms {
            (self.scheduled_rebalance_ms - now).min(self.max_delay_ms)
        } else {
            self.max_delay_ms
        };
        self.scheduled_rebalance_ms = now.saturating_add(self.delay_ms);
        Work::default()
    }

    fn reset_delay(&mut self) {
        self.candidate_workers.clear();
        self.scheduled_rebalance_ms = 0;
        self.delay_ms = 0;
    }
}

/// The assignments to send when the leader's config is behind the members' (Connect's
/// `CONFIG_MISMATCH` round): every member gets an empty, failed assignment and will read to the
/// end of the config topic and rejoin. The assignor's memory is not involved.
pub fn config_mismatch_assignments(input: &AssignorInput<'_>) -> BTreeMap<String, Assignment> {
    input
        .members
        .keys()
        .map(|m| {
            (
                m.clone(),
                Assignment {
                    error: Assignment::CONFIG_MISMATCH,
                    leader: input.leader_id.to_string(),
                    leader_url: input.leader_url.to_string(),
                    config_offset: input.config_offset,
                    ..Assignment::default()
                },
            )
        })
        .collect()
}

/// Work held by more than one member.
fn duplicated(allocations: &BTreeMap<&str, Work>) -> Work {
    let mut seen = Work::default();
    let mut dup = Work::default();
    for w in allocations.values() {
        for c in &w.connectors {
            if !seen.connectors.insert(c.clone()) {
                dup.connectors.insert(c.clone());
            }
        }
        for t in &w.tasks {
            if !seen.tasks.insert(t.clone()) {
                dup.tasks.insert(t.clone());
            }
        }
    }
    dup
}

/// Connect's `consecutiveRevokingRebalancesBackoff`: exponential backoff with initial interval 1
/// (0 when delays are disabled), multiplier 40, cap `max_delay_ms`, no jitter.
fn revocation_backoff(max_delay_ms: u64, attempts: u32) -> u64 {
    let initial: u64 = if max_delay_ms == 0 { 0 } else { 1 };
    if max_delay_ms <= initial {
        return initial;
    }
    let exp_max = ((max_delay_ms as f64) / (initial.max(1) as f64)).ln() / 40f64.ln();
    let exp = (attempts as f64).min(exp_max);
    let term = (initial as f64) * 40f64.powf(exp);
    (term as u64).min(max_delay_ms)
}

/// Per member, what to take away so that the follow-up round can balance connectors and tasks
/// (separately) to within 1 (`performLoadBalancingRevocations`).
fn load_balancing_revocations(
    configured: &Work,
    next: &[Load],
    current: &BTreeMap<&str, Work>,
) -> BTreeMap<String, Work> {
    let mut out: BTreeMap<String, Work> = BTreeMap::new();
    if next.iter().all(|l| l.work.is_empty()) || configured.is_empty() {
        return out;
    }
    for (member, items) in balance(configured.connectors.len(), next, current, |w| {
        &w.connectors
    }) {
        out.entry(member).or_default().connectors.extend(items);
    }
    for (member, items) in balance(configured.tasks.len(), next, current, |w| &w.tasks) {
        out.entry(member).or_default().tasks.extend(items);
    }
    out
}

/// For one kind of work (`total` configured instances): which items each over-loaded member
/// gives up so that at most `total % members` members keep `total / members + 1` and the rest at
/// most `total / members`.
fn balance<T: Ord + Clone>(
    total: usize,
    next: &[Load],
    current: &BTreeMap<&str, Work>,
    of: impl Fn(&Work) -> &BTreeSet<T>,
) -> Vec<(String, Vec<T>)> {
    let workers = next.len();
    let min = total / workers;
    let extra = total % workers;
    let at_min = next.iter().filter(|l| of(&l.work).len() == min).count();
    let at_extra = next.iter().filter(|l| of(&l.work).len() == min + 1).count();
    if at_extra == extra && at_min + at_extra == workers {
        return Vec::new();
    }
    let mut over: Vec<&Load> = next.iter().filter(|l| of(&l.work).len() > min).collect();
    // The least loaded of the over-loaded members keep the extra slots: fewest members disturbed.
    over.sort_by(|a, b| {
        of(&a.work)
            .len()
            .cmp(&of(&b.work).len())
            .then_with(|| a.member.cmp(&b.member))
    });
    let mut extras_given = 0;
    let mut out = Vec::new();
    for l in over {
        let size = of(&l.work).len();
        let cap = if extras_given < extra {
            extras_given += 1;
            if size == min + 1 {
                continue;
            }
            min + 1
        } else {
            min
        };
        let held = of(&current[l.member.as_str()]);
        // Work only just handed to the member goes first, then running work, highest first.
        let mut order: Vec<&T> = of(&l.work)
            .iter()
            .rev()
            .filter(|t| !held.contains(t))
            .collect();
        order.extend(of(&l.work).iter().rev().filter(|t| held.contains(t)));
        out.push((
            l.member.clone(),
            order.into_iter().take(size - cap).cloned().collect(),
        ));
    }
    out
}

/// Removes load-balancing revocations from `next`; work the member actually runs is reported
/// as revoked, work it was only just handed this round is silently withheld.
fn apply_revocations<'a>(
    balancing: &BTreeMap<String, Work>,
    next: &mut [Load],
    current: &BTreeMap<&'a str, Work>,
    to_revoke: &mut BTreeMap<&'a str, Work>,
) {
    for l in next.iter_mut() {
        let Some(take) = balancing.get(&l.member) else {
            continue;
        };
        l.work = l.work.minus(take);
        let (member, held) = current
            .get_key_value(l.member.as_str())
            .expect("every member has a current allocation");
        to_revoke
            .entry(member)
            .or_default()
            .extend(&take.intersect(held));
    }
}

/// Hands out `items` in order to the least loaded members, round-robin over the members at the
/// lowest level (Connect's `assignConnectors`/`assignTasks`: members sorted once by load then
/// member id; each pass gives one item to every member loaded no more than the first).
fn fill<T>(
    next: &mut [Load],
    items: Vec<T>,
    size: impl Fn(&Load) -> usize,
    mut give: impl FnMut(&mut Load, T),
) {
    let mut order: Vec<usize> = (0..next.len()).collect();
    order.sort_by(|&a, &b| {
        size(&next[a])
            .cmp(&size(&next[b]))
            .then_with(|| next[a].member.cmp(&next[b].member))
    });
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let first = size(&next[order[0]]);
        let up_to = order
            .iter()
            .position(|&i| size(&next[i]) > first)
            .unwrap_or(order.len());
        for &i in &order[..up_to] {
            let Some(item) = items.next() else {
                break;
            };
            give(&mut next[i], item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::protocol::{apply_assignment, ConnectProtocol};

    fn t(c: &str, n: u32) -> TaskId {
        TaskId::new(c, n)
    }
    fn strs(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }
    fn tasks(items: &[(&str, u32)]) -> BTreeSet<TaskId> {
        items.iter().map(|(c, n)| t(c, *n)).collect()
    }

    /// A simulated group: members with their current assignments, driving an assignor round by
    /// round the way workers apply assignments (`WorkerCoordinator.onJoinComplete`).
    struct Group {
        members: BTreeMap<String, Option<Assignment>>,
        configured: BTreeMap<String, u32>,
        assignor: IncrementalAssignor,
        generation: i32,
        last_completed: i32,
        now: u64,
    }

    impl Group {
        fn new(max_delay: u64, members: &[&str], configured: &[(&str, u32)]) -> Self {
            Group {
                members: members.iter().map(|m| (m.to_string(), None)).collect(),
                configured: configured
                    .iter()
                    .map(|(c, n)| (c.to_string(), *n))
                    .collect(),
                assignor: IncrementalAssignor::new(max_delay),
                generation: 0,
                last_completed: -1,
                now: 0,
            }
        }

        fn metadata(&self) -> BTreeMap<String, WorkerMetadata> {
            self.members
                .iter()
                .map(|(m, a)| {
                    (
                        m.clone(),
                        WorkerMetadata {
                            url: format!("http://{m}"),
                            config_offset: 10,
                            allocation: a.clone(),
                        },
                    )
                })
                .collect()
        }

        /// One rebalance: compute, then every member applies its assignment.
        fn round(&mut self) -> BTreeMap<String, Assignment> {
            self.generation += 1;
            let members = self.metadata();
            let input = AssignorInput {
                leader_id: "leader",
                leader_url: "http://leader",
                config_offset: 10,
                members: &members,
                configured: &self.configured,
                now_ms: self.now,
                last_completed_generation: self.last_completed,
            };
            let out = self.assignor.assign(&input, self.generation);
            assert_eq!(
                out.keys().collect::<Vec<_>>(),
                self.members.keys().collect::<Vec<_>>()
            );
            for (m, a) in &out {
                let slot = self.members.get_mut(m).unwrap();
                *slot = Some(apply_assignment(
                    ConnectProtocol::Compatible,
                    slot.as_ref(),
                    a,
                ));
            }
            self.last_completed = self.generation;
            out
        }

        fn held(&self, m: &str) -> (BTreeSet<String>, BTreeSet<TaskId>) {
            self.members[m]
                .as_ref()
                .map(|a| (a.connectors.clone(), a.tasks.clone()))
                .unwrap_or_default()
        }

        fn add(&mut self, m: &str) {
            self.members.insert(m.to_string(), None);
        }

        fn remove(&mut self, m: &str) -> (BTreeSet<String>, BTreeSet<TaskId>) {
            let held = self.held(m);
            self.members.remove(m);
            held
        }

        /// Every configured item held exactly once, nothing else held, counts within 1.
        fn assert_balanced(&self) {
            let mut conns: BTreeMap<String, usize> = BTreeMap::new();
            let mut tks: BTreeMap<TaskId, usize> = BTreeMap::new();
            let (mut cmin, mut cmax, mut tmin, mut tmax) = (usize::MAX, 0, usize::MAX, 0);
            for m in self.members.keys() {
                let (c, ts) = self.held(m);
                cmin = cmin.min(c.len());
                cmax = cmax.max(c.len());
                tmin = tmin.min(ts.len());
                tmax = tmax.max(ts.len());
                for x in c {
                    *conns.entry(x).or_default() += 1;
                }
                for x in ts {
                    *tks.entry(x).or_default() += 1;
                }
            }
            let want_c: BTreeMap<String, usize> =
                self.configured.keys().map(|c| (c.clone(), 1)).collect();
            let want_t: BTreeMap<TaskId, usize> = self
                .configured
                .iter()
                .flat_map(|(c, n)| (0..*n).map(move |i| (t(c, i), 1)))
                .collect();
            assert_eq!(
                conns, want_c,
                "connectors held exactly once: {:?}",
                self.members
            );
            assert_eq!(tks, want_t, "tasks held exactly once: {:?}", self.members);
            assert!(
                cmax - cmin <= 1,
                "connectors unbalanced: {:?}",
                self.members
            );
            assert!(tmax - tmin <= 1, "tasks unbalanced: {:?}", self.members);
        }
    }

    fn nothing_moves(out: &BTreeMap<String, Assignment>) -> bool {
        out.values().all(|a| a.is_empty())
    }

    fn counts(g: &Group) -> Vec<(usize, usize)> {
        g.members
            .keys()
            .map(|m| {
                let (c, t) = g.held(m);
                (c.len(), t.len())
            })
            .collect()
    }

    #[test]
    fn first_round_spreads_connectors_and_tasks_separately() {
        let mut g = Group::new(0, &["w1", "w2", "w3"], &[("a", 4), ("b", 4)]);
        let out = g.round();
        // Connectors and tasks are balanced separately; ties go by member id.
        assert_eq!(out["w1"].connectors, strs(&["a"]));
        assert_eq!(out["w2"].connectors, strs(&["b"]));
        assert!(out["w3"].connectors.is_empty());
        assert_eq!(out["w1"].tasks, tasks(&[("a", 0), ("a", 3), ("b", 2)]));
        assert_eq!(out["w2"].tasks, tasks(&[("a", 1), ("b", 0), ("b", 3)]));
        assert_eq!(out["w3"].tasks, tasks(&[("a", 2), ("b", 1)]));
        for a in out.values() {
            assert!(a.revoked_connectors.is_empty() && a.revoked_tasks.is_empty());
            assert_eq!(a.delay_ms, 0);
            assert_eq!(a.leader, "leader");
            assert_eq!(a.config_offset, 10);
        }
        assert_eq!(counts(&g), vec![(1, 3), (1, 3), (0, 2)]);
        g.assert_balanced();
        assert!(nothing_moves(&g.round()));
    }

    #[test]
    fn joining_member_gets_work_after_a_revoking_round() {
        let mut g = Group::new(0, &["w1", "w2", "w3"], &[("a", 4), ("b", 4)]);
        g.round();
        let before: BTreeMap<String, _> =
            g.members.keys().map(|m| (m.clone(), g.held(m))).collect();
        g.add("w4");

        // Round 1: only revocations, one task from each member holding 3 (8 tasks / 4 = 2).
        let out = g.round();
        assert!(out
            .values()
            .all(|a| a.connectors.is_empty() && a.tasks.is_empty()));
        assert!(out.values().all(|a| a.revoked_connectors.is_empty()));
        assert_eq!(out["w1"].revoked_tasks, tasks(&[("b", 2)]));
        assert_eq!(out["w2"].revoked_tasks, tasks(&[("b", 3)]));
        assert!(out["w3"].revoked_tasks.is_empty() && out["w4"].revoked_tasks.is_empty());

        // Round 2: the revoked tasks go to the newcomer; nothing else moves.
        let out = g.round();
        assert_eq!(out["w4"].tasks, tasks(&[("b", 2), ("b", 3)]));
        assert!(out["w4"].connectors.is_empty());
        for m in ["w1", "w2", "w3"] {
            assert!(out[m].is_empty(), "{m}: {:?}", out[m]);
        }
        for m in ["w1", "w2", "w3"] {
            let (c0, t0) = &before[m];
            let (c1, t1) = g.held(m);
            assert_eq!(&c1, c0);
            assert!(t1.is_subset(t0));
        }
        g.assert_balanced();
        assert_eq!(counts(&g), vec![(1, 2), (1, 2), (0, 2), (0, 2)]);
        assert!(nothing_moves(&g.round()));
    }

    #[test]
    fn departed_member_work_is_reassigned_at_once_without_delay() {
        let mut g = Group::new(0, &["w1", "w2", "w3"], &[("a", 4), ("b", 4)]);
        g.round();
        let (gone_c, gone_t) = g.remove("w1");
        let out = g.round();
        assert!(out.values().all(|a| a.delay_ms == 0));
        let mut got_c = BTreeSet::new();
        let mut got_t = BTreeSet::new();
        for a in out.values() {
            got_c.extend(a.connectors.iter().cloned());
            got_t.extend(a.tasks.iter().cloned());
            assert!(a.revoked_tasks.is_empty() && a.revoked_connectors.is_empty());
        }
        assert_eq!(got_c, gone_c);
        assert_eq!(got_t, gone_t);
        g.assert_balanced();
        assert_eq!(counts(&g), vec![(1, 4), (1, 4)]);
    }

    #[test]
    fn departed_member_work_waits_for_the_scheduled_rebalance() {
        let mut g = Group::new(10_000, &["w1", "w2", "w3"], &[("a", 4), ("b", 4)]);
        g.round();
        g.now = 1_000;
        let (_, gone_t) = g.remove("w3");
        let out = g.round();
        for a in out.values() {
            assert!(a.is_empty());
            assert_eq!(a.delay_ms, 10_000);
        }
        assert_eq!(g.assignor.scheduled_rebalance_ms(), Some(11_000));

        // An unrelated rebalance before the deadline keeps waiting with the remaining delay.
        g.now = 4_000;
        let out = g.round();
        assert!(out.values().all(|a| a.is_empty() && a.delay_ms == 7_000));

        // Deadline passed: the lost work is balanced over the survivors.
        g.now = 11_000;
        let out = g.round();
        let mut got = BTreeSet::new();
        for a in out.values() {
            assert_eq!(a.delay_ms, 0);
            got.extend(a.tasks.iter().cloned());
        }
        assert_eq!(got, gone_t);
        g.assert_balanced();
        assert_eq!(g.assignor.scheduled_rebalance_ms(), None);
    }

    #[test]
    fn lost_work_goes_to_a_member_that_joined_during_the_delay() {
        let mut g = Group::new(10_000, &["w1", "w2", "w3"], &[("a", 4), ("b", 4)]);
        g.round();
        g.now = 1_000;
        let (gone_c, gone_t) = g.remove("w1");
        g.round();
        g.now = 2_000;
        g.add("w9");
        let out = g.round();
        assert!(out.values().all(|a| a.is_empty() && a.delay_ms == 9_000));
        g.now = 11_000;
        let out = g.round();
        assert_eq!(out["w9"].connectors, gone_c);
        assert_eq!(out["w9"].tasks, gone_t);
        assert!(out["w2"].is_empty() && out["w3"].is_empty());
        g.assert_balanced();
    }

    #[test]
    fn member_returning_with_its_work_cancels_the_delay() {
        let mut g = Group::new(10_000, &["w1", "w2", "w3"], &[("a", 4), ("b", 4)]);
        g.round();
        let w3 = g.members["w3"].clone();
        g.members.remove("w3");
        g.now = 1_000;
        assert!(g.round().values().all(|a| a.delay_ms == 10_000));
        g.members.insert("w3".into(), w3);
        g.now = 2_000;
        let out = g.round();
        assert!(out.values().all(|a| a.is_empty() && a.delay_ms == 0));
        assert_eq!(g.assignor.scheduled_rebalance_ms(), None);
        g.assert_balanced();
    }

    #[test]
    fn deleted_connector_is_revoked_from_its_holders() {
        let mut g = Group::new(0, &["w1", "w2", "w3"], &[("a", 4), ("b", 4)]);
        g.round();
        g.configured.remove("b");
        let out = g.round();
        // b's connector (w2) and its tasks everywhere are revoked.
        assert_eq!(out["w2"].revoked_connectors, strs(&["b"]));
        let mut revoked_b = BTreeSet::new();
        for a in out.values() {
            revoked_b.extend(
                a.revoked_tasks
                    .iter()
                    .filter(|t| t.connector == "b")
                    .cloned(),
            );
            assert!(a.connectors.is_empty());
        }
        assert_eq!(revoked_b, tasks(&[("b", 0), ("b", 1), ("b", 2), ("b", 3)]));
        g.round();
        g.assert_balanced();
        assert!(nothing_moves(&g.round()));
    }

    #[test]
    fn shrinking_task_count_revokes_the_removed_tasks() {
        let mut g = Group::new(0, &["w1", "w2", "w3"], &[("a", 4), ("b", 4)]);
        g.round();
        g.configured.insert("a".into(), 2);
        let out = g.round();
        // a-3 was on w1, a-2 on w3.
        assert!(out["w1"].revoked_tasks.contains(&t("a", 3)));
        assert!(out["w3"].revoked_tasks.contains(&t("a", 2)));
        let revoked_a: BTreeSet<TaskId> = out
            .values()
            .flat_map(|a| {
                a.revoked_tasks
                    .iter()
                    .filter(|t| t.connector == "a")
                    .cloned()
            })
            .collect();
        assert_eq!(revoked_a, tasks(&[("a", 2), ("a", 3)]));
        assert!(out.values().all(|a| a.revoked_connectors.is_empty()));
        g.round();
        g.assert_balanced();
        assert!(nothing_moves(&g.round()));
    }

    #[test]
    fn duplicated_task_is_revoked_from_all_holders_then_reassigned() {
        let mut g = Group::new(0, &["w1", "w2"], &[("a", 2)]);
        let dup = |c: &[&str], ts: &[(&str, u32)]| {
            Some(Assignment {
                connectors: strs(c),
                tasks: tasks(ts),
                ..Assignment::default()
            })
        };
        g.members
            .insert("w1".into(), dup(&["a"], &[("a", 0), ("a", 1)]));
        g.members.insert("w2".into(), dup(&[], &[("a", 1)]));
        let out = g.round();
        assert_eq!(out["w1"].revoked_tasks, tasks(&[("a", 1)]));
        assert_eq!(out["w2"].revoked_tasks, tasks(&[("a", 1)]));
        assert!(out.values().all(|a| a.tasks.is_empty()));
        let out = g.round();
        assert_eq!(out["w2"].tasks, tasks(&[("a", 1)]));
        g.assert_balanced();
    }

    #[test]
    fn stale_leader_memory_is_rebuilt_from_members() {
        let mut g = Group::new(10_000, &["w1", "w2", "w3"], &[("a", 4), ("b", 4)]);
        g.round();
        // A new leader (fresh assignor) that completed generation 1 as a follower.
        g.assignor = IncrementalAssignor::new(10_000);
        g.configured.insert("c".into(), 1);
        let out = g.round();
        assert!(out
            .values()
            .all(|a| a.delay_ms == 0 && a.revoked_tasks.is_empty()));
        let new: BTreeSet<TaskId> = out.values().flat_map(|a| a.tasks.iter().cloned()).collect();
        assert_eq!(new, tasks(&[("c", 0)]));
        g.assert_balanced();

        // The leader's last computation (generation 3) never completed, and a member left in
        // the meantime: with its memory discarded, the missing work is simply new work.
        let members = g.metadata();
        let mut pruned = members.clone();
        pruned.remove("w3");
        g.now = 5_000;
        let input = AssignorInput {
            leader_id: "leader",
            leader_url: "http://leader",
            config_offset: 10,
            members: &members,
            configured: &g.configured,
            now_ms: g.now,
            last_completed_generation: g.last_completed,
        };
        g.assignor.assign(&input, g.generation + 1);
        let input = AssignorInput {
            members: &pruned,
            last_completed_generation: g.last_completed,
            ..input
        };
        let out = g.assignor.assign(&input, g.generation + 2);
        assert!(out.values().all(|a| a.delay_ms == 0));
        let (gone_c, gone_t) = g.held("w3");
        let got_t: BTreeSet<TaskId> = out.values().flat_map(|a| a.tasks.iter().cloned()).collect();
        let got_c: BTreeSet<String> = out
            .values()
            .flat_map(|a| a.connectors.iter().cloned())
            .collect();
        assert_eq!((got_c, got_t), (gone_c, gone_t));
    }

    #[test]
    fn config_mismatch_round() {
        let members: BTreeMap<String, WorkerMetadata> = [("w1", 3), ("w2", 9)]
            .iter()
            .map(|(m, o)| {
                (
                    m.to_string(),
                    WorkerMetadata {
                        url: format!("http://{m}"),
                        config_offset: *o,
                        allocation: None,
                    },
                )
            })
            .collect();
        let configured = BTreeMap::new();
        let input = AssignorInput {
            leader_id: "w1",
            leader_url: "http://w1",
            config_offset: 9,
            members: &members,
            configured: &configured,
            now_ms: 0,
            last_completed_generation: -1,
        };
        let out = config_mismatch_assignments(&input);
        assert_eq!(out.len(), 2);
        assert!(out.values().all(|a| a.error == Assignment::CONFIG_MISMATCH
            && a.is_empty()
            && a.config_offset == 9));
    }

    #[test]
    fn backoff_matches_connect() {
        assert_eq!(revocation_backoff(0, 1), 0);
        assert_eq!(revocation_backoff(300_000, 1), 40);
        assert_eq!(revocation_backoff(300_000, 2), 1_600);
        assert_eq!(revocation_backoff(300_000, 3), 64_000);
        assert_eq!(revocation_backoff(300_000, 4), 300_000);
        assert_eq!(revocation_backoff(1, 5), 1);
    }

    #[test]
    fn consecutive_revoking_rounds_back_off() {
        let mut g = Group::new(300_000, &["w1", "w2"], &[("a", 8)]);
        g.round();
        g.add("w3");
        let out = g.round();
        assert!(out.values().any(|a| !a.revoked_tasks.is_empty()));
        // Another member joins before the revoked work has been reassigned: no second
        // revoking round right away, a short delay instead.
        g.add("w4");
        let out = g.round();
        assert!(out
            .values()
            .all(|a| a.revoked_tasks.is_empty() && a.delay_ms == 40));
        let given: usize = out.values().map(|a| a.tasks.len()).sum();
        assert_eq!(
            given, 2,
            "the previously revoked tasks are still handed out"
        );
        g.now = 40;
        g.round();
        g.round();
        g.assert_balanced();
    }

    /// A tiny deterministic RNG (64-bit LCG) so the property loop needs no extra crates.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn random_scenarios_converge_within_two_rounds() {
        let mut rng = Lcg(0x5eed_cafe);
        for scenario in 0..400 {
            let n_members = 1 + rng.below(5) as usize;
            let names: Vec<String> = (0..n_members).map(|i| format!("m{i}")).collect();
            let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
            let configured: Vec<(String, u32)> = (0..rng.below(6))
                .map(|i| (format!("c{i}"), rng.below(7) as u32))
                .collect();
            let conf_refs: Vec<(&str, u32)> =
                configured.iter().map(|(c, n)| (c.as_str(), *n)).collect();
            let mut g = Group::new(0, &refs, &conf_refs);

            // A messy starting point: some work unassigned, some duplicated, plus work of a
            // connector that no longer exists.
            let mut start: BTreeMap<String, Assignment> = BTreeMap::new();
            let mut place = |rng: &mut Lcg, f: &mut dyn FnMut(&mut Assignment)| {
                let holders = match rng.below(6) {
                    0 => 0,
                    1 => 2,
                    _ => 1,
                };
                for _ in 0..holders {
                    let m = &names[rng.below(n_members as u64) as usize];
                    f(start.entry(m.clone()).or_default());
                }
            };
            let mut all: Vec<(String, Option<u32>)> = Vec::new();
            for (c, n) in configured.iter().chain([("gone".to_string(), 2)].iter()) {
                all.push((c.clone(), None));
                for i in 0..*n {
                    all.push((c.clone(), Some(i)));
                }
            }
            for (c, task) in all {
                place(&mut rng, &mut |a: &mut Assignment| match task {
                    None => {
                        a.connectors.insert(c.clone());
                    }
                    Some(i) => {
                        a.tasks.insert(t(&c, i));
                    }
                });
            }
            for (m, a) in start {
                g.members.insert(m, Some(a));
            }

            g.round();
            g.round();
            g.assert_balanced();
            assert!(nothing_moves(&g.round()), "scenario {scenario} not stable");

            // Then a change: a member joins or leaves, or the configuration changes.
            match rng.below(4) {
                0 => g.add("late"),
                1 if g.members.len() > 1 => {
                    let m = g.members.keys().next().unwrap().clone();
                    g.remove(&m);
                }
                2 => {
                    g.configured.insert("new".into(), rng.below(9) as u32);
                }
                _ => {
                    if let Some(c) = g.configured.keys().next().cloned() {
                        if rng.below(2) == 0 {
                            g.configured.remove(&c);
                        } else {
                            g.configured.insert(c, rng.below(3) as u32);
                        }
                    }
                }
            }
            g.round();
            g.round();
            g.assert_balanced();
            assert!(
                nothing_moves(&g.round()),
                "scenario {scenario} not stable after change"
            );
        }
    }
}
