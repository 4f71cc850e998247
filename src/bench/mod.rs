//! `kconnect bench`: measures kconnect against what it is built on, in the same process run, and
//! prints ratios — never absolute targets in tests, since machines differ.
//!
//! | name | what |
//! |---|---|
//! | `source` | FileStreamSource → embedded broker vs a raw rdkafka producer sending the same lines |
//! | `sink` | embedded broker → FileStreamSink vs a raw rdkafka consumer writing the same file |
//! | `postgres` | PostgresSource → embedded broker vs `COPY … TO STDOUT` of the same table, and a pre-filled topic → PostgresSink vs a batched `INSERT … UNNEST` of the same rows (`--postgres`) |
//! | `json` | JsonConverter (`schemas.enable=true`) vs serde_json on an equivalent struct |
//! | `smt` | JsonConverter plus InsertField$Value and ReplaceField$Value vs the converter alone |
//! | `restart` | a panicking task's restart latency, panic → RUNNING |
//! | `shutdown` | a worker's shutdown with 200 running source tasks |
//! | `rss` | the worker process's resident memory, idle and with 50 tasks |
//! | `startup` | `kconnect standalone` from spawn to `GET /health` answering 200 |
//! | `java` | kconnect next to Apache Kafka Connect on a real broker (`--kafka`, `--java-classpath`) |
//! | `failover` | SIGKILL of a distributed worker until its tasks run elsewhere, kconnect and Java Connect (same flags) |
//! | `rebalance` | a second worker joins one running 200 tasks: until 100 run on it, kconnect and Java Connect (same flags) |
//! | `eos` | exactly-once source throughput as a ratio to at-least-once, on a real broker (`--kafka`) |
//!
//! Each benchmark lives in a file of its own; this one chooses what runs, and formats the table
//! (stdout) and the Markdown report (`BENCHMARKS.md`).

mod eos;
mod failover;
mod inproc;
mod java;
mod json;
mod postgres;
mod postgres_sink;
mod process;
mod rebalance;
mod restart;
mod shutdown;
mod sink;
mod smt;
mod source;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The benchmarks, in the order they run.
pub const BENCHMARKS: &[&str] = &[
    "source",
    "sink",
    "postgres",
    "json",
    "smt",
    "restart",
    "shutdown",
    "rss",
    "startup",
    "java",
    "failover",
    "rebalance",
    "eos",
];

/// `kconnect bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Run only this benchmark; repeat for several. One of: source, sink, postgres, json, smt,
    /// restart, shutdown, rss, startup, java, failover, rebalance, eos.
    #[arg(long = "only", value_name = "NAME")]
    pub only: Vec<String>,
    /// Lines (records of 100 bytes) for the source and sink benchmarks [default: 1000000, or
    /// 20000 with --quick].
    #[arg(long, value_name = "N")]
    pub lines: Option<usize>,
    /// A small smoke run: few lines, few repetitions, one round. Writes no Markdown report
    /// unless --markdown is given.
    #[arg(long)]
    pub quick: bool,
    /// Write the results as Markdown to this file. By default a full run (no --quick, no
    /// --only) writes BENCHMARKS.md in the current directory.
    #[arg(long, value_name = "PATH")]
    pub markdown: Option<PathBuf>,
    /// Write no Markdown report.
    #[arg(long, conflicts_with = "markdown")]
    pub no_markdown: bool,
    /// Run only this side of the `source` benchmark (`raw` or `kconnect`): no ratio, but a
    /// process that does one side's work alone, e.g. to count its instructions per record
    /// with callgrind (`scripts/callgrind-source.sh`).
    #[arg(long, value_name = "SIDE", value_parser = ["raw", "kconnect"])]
    pub source_side: Option<String>,
    /// Run only this side of the `sink` benchmark (`raw` or `kconnect`), with
    /// `fetch.queue.backoff.ms=10` (the like-for-like settings): no ratio, but a process that
    /// does one side's work alone, e.g. to count its instructions per consumed record with
    /// callgrind (`scripts/callgrind-sink.sh`).
    #[arg(long, value_name = "SIDE", value_parser = ["raw", "kconnect"])]
    pub sink_side: Option<String>,
    /// Run only this loop of the `smt` benchmark, once, over --lines records (default
    /// 20000): no ratio, but a process that does one loop's work alone, to count its
    /// instructions per record with callgrind (`scripts/callgrind-smt.sh`).
    #[arg(long, value_name = "LOOP", value_parser = smt::LOOPS)]
    pub smt_loop: Option<String>,
    /// A real Kafka broker for the `java` benchmarks (kconnect next to Apache Kafka Connect,
    /// with --java-classpath) and the `eos` benchmark. `scripts/bench-vs-java.sh` starts one
    /// and passes it.
    #[arg(long, value_name = "BOOTSTRAP")]
    pub kafka: Option<String>,
    /// A PostgreSQL server for the `postgres` benchmark
    /// (`postgres://user:password@host:port/db`; tests/postgres/start-postgres.sh prints one).
    /// The benchmark creates and drops a schema `kconnect_bench` there.
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// The classpath of Apache Kafka Connect for the `java` benchmark (from
    /// `tests/kafka/pom.xml`; `scripts/bench-vs-java.sh` passes it).
    #[arg(long, value_name = "CLASSPATH", requires = "kafka")]
    pub java_classpath: Option<String>,
}

/// How much work each benchmark does.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Records of the source and sink benchmarks.
    pub lines: usize,
    /// Alternating rounds (raw, kconnect, raw, kconnect…) of the source and sink benchmarks;
    /// the best round of each side counts.
    pub rounds: usize,
    /// Records each way through the converters (and, in `smt`, per round of each loop).
    pub json_records: usize,
    pub restarts: usize,
    /// Tasks of the loaded RSS measurement.
    pub load_tasks: usize,
    /// Start-ups measured per configuration.
    pub startups: usize,
    /// `--source-side`: the one side of the source benchmark to run (`None`: both).
    pub source_side: Option<String>,
    /// `--sink-side`: the one side of the sink benchmark to run (`None`: both).
    pub sink_side: Option<String>,
    /// `--smt-loop`: the one loop of the smt benchmark to run, and over how many records.
    pub smt_loop: Option<(String, usize)>,
}

/// `--smt-loop` with its record count (`--lines`, 20,000 by default).
fn smt_loop(args: &BenchArgs) -> Option<(String, usize)> {
    let name = args.smt_loop.clone()?;
    Some((name, args.lines.unwrap_or(20_000)))
}

impl Plan {
    fn new(args: &BenchArgs) -> Plan {
        if args.quick {
            Plan {
                lines: args.lines.unwrap_or(20_000),
                rounds: 1,
                json_records: 20_000,
                restarts: 10,
                load_tasks: 10,
                startups: 2,
                source_side: args.source_side.clone(),
                sink_side: args.sink_side.clone(),
                smt_loop: smt_loop(args),
            }
        } else {
            Plan {
                lines: args.lines.unwrap_or(1_000_000),
                rounds: 2,
                json_records: 200_000,
                restarts: 50,
                load_tasks: 50,
                startups: 5,
                source_side: args.source_side.clone(),
                sink_side: args.sink_side.clone(),
                smt_loop: smt_loop(args),
            }
        }
    }
}

/// What a measured value should be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Target {
    AtLeast(f64),
    Below(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unit {
    Ratio,
    PerSec,
    Millis,
    /// Megabytes of 10^6 bytes.
    MB,
}

/// One line of the results table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub name: String,
    pub value: f64,
    pub unit: Unit,
    pub target: Option<Target>,
}

impl Row {
    pub fn info(name: impl Into<String>, value: f64, unit: Unit) -> Row {
        Row {
            name: name.into(),
            value,
            unit,
            target: None,
        }
    }

    pub fn with_target(name: impl Into<String>, value: f64, unit: Unit, target: Target) -> Row {
        Row {
            name: name.into(),
            value,
            unit,
            target: Some(target),
        }
    }

    /// Whether the target is met; `None` without a target.
    pub fn met(&self) -> Option<bool> {
        Some(match self.target? {
            Target::AtLeast(t) => self.value >= t,
            Target::Below(t) => self.value < t,
        })
    }

    /// "met by …" / "MISSED by …", with the difference in the row's unit and in percent of the
    /// target; "-" without a target.
    pub fn verdict(&self) -> String {
        let Some(target) = self.target else {
            return "-".into();
        };
        let t = match target {
            Target::AtLeast(t) | Target::Below(t) => t,
        };
        let diff = (self.value - t).abs();
        let pct = if t == 0.0 { 0.0 } else { diff / t * 100.0 };
        let word = if self.met() == Some(true) {
            "met by"
        } else {
            "MISSED by"
        };
        format!("{word} {} ({pct:.1}%)", format_value(diff, self.unit))
    }

    pub fn target_text(&self) -> String {
        match self.target {
            None => "-".into(),
            Some(Target::AtLeast(t)) => format!("≥ {}", format_value(t, self.unit)),
            Some(Target::Below(t)) => format!("< {}", format_value(t, self.unit)),
        }
    }
}

/// What one benchmark produced: rows, and notes on how it measured.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

/// `value` with its unit: `0.953`, `412,345 rec/s`, `3.21 ms`, `12.40 MB`.
pub(crate) fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Ratio => format!("{value:.3}"),
        Unit::PerSec => format!("{} rec/s", thousands(value.round() as u64)),
        Unit::Millis => format!("{value:.2} ms"),
        Unit::MB => format!("{value:.2} MB"),
    }
}

/// `1234567` → `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The median of `samples` (the mean of the middle two for an even count).
pub(crate) fn median(samples: &[f64]) -> f64 {
    percentile_sorted(&sorted(samples), 50.0)
}

/// The nearest-rank percentile `p` (0–100) of `samples`: the smallest sample with at least
/// p% of the samples at or below it. The 50th of an even count is the mean of the middle two.
pub(crate) fn percentile(samples: &[f64], p: f64) -> f64 {
    percentile_sorted(&sorted(samples), p)
}

fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

fn percentile_sorted(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    if p == 50.0 && v.len() % 2 == 0 {
        return (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Records per second.
pub(crate) fn rate(records: usize, elapsed: Duration) -> f64 {
    records as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// The results as an aligned plain-text table.
pub(crate) fn text_table(rows: &[Row]) -> String {
    let header = ["benchmark", "measured", "target", "result"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                format_value(r.value, r.unit),
                r.target_text(),
                r.verdict(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for c in &cells {
        for (w, s) in widths.iter_mut().zip(c) {
            *w = (*w).max(s.chars().count());
        }
    }
    let line = |c: [&str; 4]| {
        let mut s = String::new();
        for (i, (cell, w)) in c.iter().zip(widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            if i < 3 {
                s.extend(std::iter::repeat_n(' ', w - cell.chars().count()));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line([&rule[0], &rule[1], &rule[2], &rule[3]]));
    for c in &cells {
        out.push_str(&line([&c[0], &c[1], &c[2], &c[3]]));
    }
    out
}

/// The results as a Markdown table.
pub(crate) fn markdown_table(rows: &[Row]) -> String {
    let mut out = String::from("| benchmark | measured | target | result |\n|---|---:|---|---|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            r.name.replace('|', "\\|"),
            format_value(r.value, r.unit),
            r.target_text(),
            r.verdict()
        );
    }
    out
}

/// `YYYY-MM-DD HH:MM UTC` for seconds since the Unix epoch.
pub(crate) fn utc_date(epoch_secs: u64) -> String {
    let days = (epoch_secs / 86_400) as i64;
    let secs = epoch_secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// CPU count, CPU model, memory and kernel, from /proc.
fn machine() -> Vec<(&'static str, String)> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "?".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| std::env::consts::OS.into());
    vec![
        ("CPUs (nproc)", cpus),
        ("CPU model", model),
        ("memory", memory),
        ("OS", kernel),
    ]
}

fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug (numbers are not representative: build with --release)"
    } else {
        "release"
    }
}

/// How to run the benchmarks, for BENCHMARKS.md.
const HOW_TO_RUN: &str = "\
## Running it

```sh
cargo run --release -- bench                   # every benchmark, about a minute; rewrites BENCHMARKS.md
cargo run --release -- bench --quick           # a smoke run in seconds; writes no report
cargo run --release -- bench --only source --only restart
cargo run --release -- bench --lines 200000    # fewer records for source and sink
cargo run --release -- --log-level warn bench  # without the worker's INFO logs on stderr
```

Options: `--only NAME` (repeatable: `source`, `sink`, `postgres`, `json`, `smt`, `restart`,
`shutdown`, `rss`, `startup`, `java`, `failover`, `rebalance`), `--postgres URL` (for `postgres`:
the PostgreSQL source against `COPY … TO STDOUT` of the same table, and the PostgreSQL sink
against a batched insert; tests/postgres/start-postgres.sh starts a throwaway server and prints
its URL), `--kafka BOOTSTRAP --java-classpath CP` (for `java`, `failover` and `rebalance`:
kconnect next to Apache Kafka Connect on a real broker; `scripts/bench-vs-java.sh` starts the
broker and passes both; `failover` alone takes about six minutes, most of it Java Connect's
default `scheduled.rebalance.max.delay.ms`),
`--lines N` (records of the source and sink benchmarks, default 1,000,000), `--quick`,
`--markdown PATH` (write the report there; a full run writes `BENCHMARKS.md` in the current
directory), `--no-markdown`, `--source-side raw|kconnect` and `--sink-side raw|kconnect` (one
side of `source` or `sink` alone, no ratio; the sink side with `fetch.queue.backoff.ms=10`).
The table goes to stdout; logs go to stderr. The exit code is 1 only if a benchmark could not
run; a missed target is reported, not an error.

Every kconnect number is compared with a baseline measured in the same run on the same machine
(ratios), so the numbers say how much the runtime costs over the clients it is built on, not how
fast the machine is. Throughput runs alternate raw and kconnect rounds and keep each side's best
round. Both sides of the source and sink benchmarks talk to the embedded broker (librdkafka's
in-memory mock cluster) in the bench's own process, on the same CPUs, so their absolute
records/s say little about a real cluster; the ratios are the point. Throughput varies by ±30%
between rounds on a small machine: compare ratios across runs, not single rounds.

### Instructions per record (callgrind)

Records/s on a shared machine swing by tens of percent; instruction counts do not. To see
what one source or sink record costs, and what a change saved:

```sh
apt-get install -y valgrind                  # if missing
cargo build --release
scripts/callgrind-source.sh 20000            # raw: … instructions per record; kconnect: …
scripts/callgrind-sink.sh 20000              # the same per consumed record
SIDES=both scripts/callgrind-source.sh 20000 /path/to/an/older/kconnect
scripts/callgrind-smt.sh 20000               # each smt loop, and the transforms' ratios
```

The script runs `kconnect bench --quick --only source --source-side SIDE --lines N` under
`valgrind --tool=callgrind`, once with N and once with 2N lines, and prints (Ir(2N) - Ir(N)) / N:
what one more record costs the whole process (every thread: the task or the raw loop, the
producer, librdkafka's threads, the embedded broker), with start-up and the input file
cancelling out. The threads that work by the clock add noise, which grows with the machine's
load under valgrind: with one side alone the watchers look at progress every 50 ms (not every
1-2 ms), which leaves idle timers, a few percent. A binary older than `--source-side` runs both sides (`SIDES=both`);
subtract the raw side's count. `scripts/callgrind-sink.sh` does the same with `--only sink
--sink-side SIDE`: every thread of the process again, so the feeding producer and the embedded
broker too, which both sides share; kconnect minus raw is what the sink path adds. For where the instructions go, keep one run's output
(`valgrind --tool=callgrind --callgrind-out-file=k.out target/release/kconnect bench --quick
--only source --no-markdown --source-side kconnect --lines 40000`) and read it with
`callgrind_annotate --inclusive=yes k.out`. `scripts/callgrind-smt.sh` runs each loop of the
`smt` benchmark alone (`--smt-loop LOOP --lines N`, one thread, no broker) and prints its
instructions per record and the transforms' instructions over the conversion's on each side.
";

/// The `## ` sections the report is made of; any other one found in the report being replaced
/// is kept (see [`kept_sections`]).
const GENERATED_SECTIONS: &[&str] = &[
    "## Last run",
    "## How each number is measured",
    "## Running it",
];

/// The `## ` sections of `previous` (the report being replaced) that the bench does not write,
/// as they were and in their order: numbers that come from elsewhere than a bench run, such as
/// instruction counts before and after a change, measured with the callgrind scripts.
fn kept_sections(previous: &str) -> String {
    let mut out = String::new();
    let mut keep = false;
    for line in previous.split_inclusive('\n') {
        if line.starts_with("## ") {
            keep = !GENERATED_SECTIONS.contains(&line.trim_end());
        }
        if keep {
            out.push_str(line);
        }
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out
}

/// BENCHMARKS.md: machine, date, command, build, results and how they were measured, with the
/// sections of `previous` (the file being replaced) that a run does not write.
fn markdown_report(
    rows: &[Row],
    notes: &[String],
    plan: &Plan,
    started: u64,
    load_before: &str,
    previous: &str,
) -> String {
    let mut out = String::from(
        "# Benchmarks\n\n`kconnect bench` measures kconnect against raw rdkafka clients and \
         serde_json in one process run and reports ratios. This file is written by it (a run \
         keeps the sections it does not write, such as the instruction counts); see the end for \
         how to run it.\n\n## Last run\n\n",
    );
    // The classpath runs to thousands of characters of one machine's Maven cache, and the
    // PostgreSQL URL holds a password: name them instead.
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    for i in 1..args.len() {
        if args[i - 1] == "--java-classpath" {
            args[i] = "<tests/kafka/pom.xml's classpath>".into();
        }
        // The server's URL holds its password.
        if args[i - 1] == "--postgres" {
            args[i] = "<PostgreSQL URL>".into();
        }
    }
    for a in &mut args {
        if a.starts_with("--postgres=") {
            *a = "--postgres=<PostgreSQL URL>".into();
        }
    }
    // `cargo run` sets CARGO for the program it runs.
    let command = if std::env::var_os("CARGO").is_some() {
        let release = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        format!("cargo run{release} -- {}", args.join(" "))
    } else {
        format!("kconnect {}", args.join(" "))
    };
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| date | {} |", utc_date(started));
    let _ = writeln!(out, "| command | `{command}` |");
    let _ = writeln!(
        out,
        "| build | `cargo build --release` (profile: {}) |",
        build_profile()
    );
    for (k, v) in machine() {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    // Other work on the machine competes with both sides of every ratio, but not equally
    // (a raw client and a worker use the CPUs differently): say how busy it was.
    let _ = writeln!(
        out,
        "| load average before the run (1, 5, 15 min) | {load_before} |"
    );
    let _ = writeln!(
        out,
        "| sizes | {} lines × 100 bytes, {} round(s) per side, {} JSON records, {} restarts, \
         {} loaded tasks, {} start-ups per configuration |",
        thousands(plan.lines as u64),
        plan.rounds,
        thousands(plan.json_records as u64),
        plan.restarts,
        plan.load_tasks,
        plan.startups
    );
    out.push('\n');
    out.push_str(&markdown_table(rows));
    out.push_str("\n## How each number is measured\n\n");
    for n in notes {
        let _ = writeln!(out, "- {n}");
    }
    out.push('\n');
    out.push_str(&kept_sections(previous));
    out.push_str(HOW_TO_RUN);
    out
}

/// Runs the chosen benchmarks, prints the table, writes the Markdown report.
pub async fn run(args: BenchArgs) -> ExitCode {
    for name in &args.only {
        if !BENCHMARKS.contains(&name.as_str()) {
            eprintln!(
                "kconnect bench: unknown benchmark {name:?}; choose from {}",
                BENCHMARKS.join(", ")
            );
            return ExitCode::from(2);
        }
    }
    let plan = Plan::new(&args);
    if plan.lines == 0 {
        eprintln!("kconnect bench: --lines must be at least 1");
        return ExitCode::from(2);
    }
    let load_before = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "?".into());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if cfg!(debug_assertions) {
        eprintln!("kconnect bench: this is a debug build; use cargo run --release -- bench");
    }
    let t0 = Instant::now();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut failed = Vec::new();
    for name in BENCHMARKS {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == name) {
            continue;
        }
        eprintln!("kconnect bench: running {name}…");
        let t = Instant::now();
        let result = match *name {
            "source" => source::run(&plan).await,
            "sink" => sink::run(&plan).await,
            "json" => json::run(&plan).await,
            "postgres" => match &args.postgres {
                Some(url) => postgres::run(&plan, url).await,
                None if args.only.is_empty() => {
                    eprintln!(
                        "kconnect bench: skipping postgres: it needs --postgres URL \
                         (tests/postgres/start-postgres.sh starts a server and prints one)"
                    );
                    continue;
                }
                None => Err(anyhow::anyhow!(
                    "the postgres benchmark needs --postgres URL \
                     (tests/postgres/start-postgres.sh starts a server and prints one)"
                )),
            },
            "smt" => smt::run(&plan).await,
            "restart" => restart::run(&plan).await,
            "shutdown" => shutdown::run(&plan).await,
            "rss" => process::run_rss(&plan).await,
            "startup" => process::run_startup(&plan).await,
            "java" | "failover" | "rebalance" => match (&args.kafka, &args.java_classpath) {
                (Some(bootstrap), Some(classpath)) => {
                    let peer = java::JavaPeer {
                        bootstrap: bootstrap.clone(),
                        classpath: classpath.clone(),
                    };
                    match *name {
                        "java" => java::run(&plan, &peer).await,
                        "failover" => failover::run(&peer).await,
                        _ => rebalance::run(&peer).await,
                    }
                }
                _ if args.only.is_empty() => {
                    eprintln!(
                        "kconnect bench: skipping {name}: it needs --kafka and --java-classpath \
                         (scripts/bench-vs-java.sh passes both)"
                    );
                    continue;
                }
                _ => Err(anyhow::anyhow!(
                    "the {name} benchmark needs --kafka and --java-classpath \
                     (scripts/bench-vs-java.sh passes both)"
                )),
            },
            "eos" => match &args.kafka {
                Some(bootstrap) => eos::run(&plan, bootstrap).await,
                None if args.only.is_empty() => {
                    eprintln!("kconnect bench: skipping eos: it needs --kafka");
                    continue;
                }
                None => Err(anyhow::anyhow!("the eos benchmark needs --kafka")),
            },
            _ => unreachable!("checked above"),
        };
        match result {
            Ok(report) => {
                eprint!("{}", text_table(&report.rows));
                eprintln!(
                    "kconnect bench: {name} done in {:.1} s",
                    t.elapsed().as_secs_f64()
                );
                rows.extend(report.rows);
                notes.extend(report.notes);
            }
            Err(e) => {
                eprintln!("kconnect bench: {name} FAILED: {e:#}");
                notes.push(format!("**{name} could not run:** {e:#}"));
                failed.push(*name);
            }
        }
    }
    println!();
    print!("{}", text_table(&rows));
    println!(
        "\n{} benchmark(s) in {:.1} s, build: {}",
        BENCHMARKS
            .iter()
            .filter(|n| args.only.is_empty() || args.only.iter().any(|o| o == *n))
            .count(),
        t0.elapsed().as_secs_f64(),
        build_profile()
    );
    let missed: Vec<&str> = rows
        .iter()
        .filter(|r| r.met() == Some(false))
        .map(|r| r.name.as_str())
        .collect();
    if !missed.is_empty() {
        println!("targets missed: {}", missed.join("; "));
    }
    if !failed.is_empty() {
        println!("benchmarks that could not run: {}", failed.join(", "));
    }
    let markdown = if args.no_markdown {
        None
    } else if let Some(p) = &args.markdown {
        Some(p.clone())
    } else if !args.quick && args.only.is_empty() {
        Some(PathBuf::from("BENCHMARKS.md"))
    } else {
        None
    };
    if let Some(path) = markdown {
        let previous = std::fs::read_to_string(&path).unwrap_or_default();
        match std::fs::write(
            &path,
            markdown_report(&rows, &notes, &plan, started, &load_before, &previous),
        ) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("kconnect bench: cannot write {}: {e}", path.display());
                return ExitCode::from(1);
            }
        }
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_report_keeps_the_sections_a_run_does_not_write() {
        let previous = "# Benchmarks\n\nintro\n\n## Last run\n\n| old | row |\n\n\
                        ## Instructions per record, before and after\n\n| sink | 1 |\n\n\
                        ## How each number is measured\n\n- old note\n\n## Notes\n\nkept\n\
                        ## Running it\n\n```sh\ncargo run\n```\n";
        assert_eq!(
            kept_sections(previous),
            "## Instructions per record, before and after\n\n| sink | 1 |\n\n\
             ## Notes\n\nkept\n\n"
        );
        assert_eq!(kept_sections(""), "");
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            bench: BenchArgs,
        }
        let plan = Plan::new(&<Cli as clap::Parser>::parse_from(["bench", "--quick"]).bench);
        let report = markdown_report(&[], &["a note".into()], &plan, 0, "0.00", previous);
        // Generated sections are replaced, kept ones come before how to run it.
        assert!(!report.contains("| old | row |") && !report.contains("old note"));
        let kept = report
            .find("## Instructions per record, before and after")
            .unwrap();
        assert!(report.find("- a note").unwrap() < kept);
        assert!(kept < report.find("## Running it").unwrap());
        // A report carried over twice stays the same.
        assert_eq!(kept_sections(&report), kept_sections(previous));
    }

    #[test]
    fn median_and_nearest_rank_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 99.0), 99.0);
        assert_eq!(percentile(&hundred, 100.0), 100.0);
        // With 50 samples the 99th percentile is the largest one.
        let fifty: Vec<f64> = (1..=50).rev().map(f64::from).collect();
        assert_eq!(percentile(&fifty, 99.0), 50.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn values_and_verdicts_format() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(format_value(412_345.4, Unit::PerSec), "412,345 rec/s");
        let r = Row::with_target("source", 0.95, Unit::Ratio, Target::AtLeast(0.9));
        assert_eq!(r.met(), Some(true));
        assert_eq!(r.verdict(), "met by 0.050 (5.6%)");
        let r = Row::with_target("rss", 18.0, Unit::MB, Target::Below(15.0));
        assert_eq!(r.met(), Some(false));
        assert_eq!(r.verdict(), "MISSED by 3.00 MB (20.0%)");
        assert_eq!(r.target_text(), "< 15.00 MB");
        assert_eq!(Row::info("x", 1.0, Unit::Millis).verdict(), "-");
    }

    #[test]
    fn tables_align_and_escape() {
        let rows = vec![
            Row::with_target("restart median", 1.5, Unit::Millis, Target::Below(50.0)),
            Row::info("a|b", 2.0, Unit::Ratio),
        ];
        let text = text_table(&rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let col = lines[0].find("measured").unwrap();
        assert_eq!(lines[2].find("1.50 ms"), Some(col));
        assert!(lines[2].ends_with("met by 48.50 ms (97.0%)"));
        let md = markdown_table(&rows);
        assert!(md.contains("| a\\|b | 2.000 | - | - |"), "{md}");
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_date(1_767_225_599), "2025-12-31 23:59 UTC");
    }
}
