//! `kconnect ctl`: a command-line client for the Kafka Connect REST API, of kconnect workers
//! and of Apache Kafka Connect (3.9) workers alike.
//!
//! Each subcommand makes one REST call (`describe` a few, `apply` one or two per file) to the
//! worker and prints the reply as a table or a word of confirmation (`render.rs`), or with
//! `-o json` the reply's JSON body, pretty-printed, for scripts; `validate` prints a per-key
//! list of errors (`-o json` or `--json` for the raw reply).
//!
//! The worker is `--url`, else the context named by `--context`, else `KCONNECT_URL`, else the
//! current context of the config file (`context.rs`), else `http://127.0.0.1:8083`.
//! `--user USER:PASSWORD` (or `KCONNECT_USER`) sends HTTP basic auth, `--cacert FILE` trusts a
//! CA for https.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: the worker answered 2xx |
//! | 1 | the worker answered an error (non-2xx status); `error <code>: <message>` on stderr, from Connect's `{"error_code","message"}` body. `validate` also exits 1 when the config has errors |
//! | 2 | usage error: bad arguments (clap), or an input file that cannot be read or lacks what the command needs; nothing was sent |
//! | 3 | no usable reply: the worker cannot be reached, the connection failed or timed out, or a 2xx reply was not JSON |

mod client;
mod context;
mod error;
mod render;
mod request;
mod table;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use reqwest::Url;
use serde_json::Value;

use client::Outcome;
use error::CtlError;

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success (the worker answered 2xx)
  1  the worker answered an error; `error <code>: <message>` is printed on stderr
     (validate: also when the config has errors)
  2  usage error: bad arguments, or an input file that cannot be read or is incomplete
     (nothing was sent)
  3  no usable reply: the worker cannot be reached, the connection failed or timed out,
     or a successful reply was not JSON";

/// Talk to a Kafka Connect worker's REST API (kconnect or Apache Kafka Connect).
#[derive(Args, Debug)]
#[command(after_help = EXIT_CODES_HELP)]
pub struct CtlArgs {
    /// Base URL of the worker's REST API; `host:port` means `http://host:port`. Without it:
    /// the --context, else $KCONNECT_URL, else the config file's current context, else
    /// http://127.0.0.1:8083.
    #[arg(
        long,
        global = true,
        help_heading = "Connection",
        value_parser = parse_base_url
    )]
    url: Option<Url>,

    /// The context (worker URL and credentials) of the config file to use
    /// ($KCONNECT_CONFIG, else ~/.config/kconnect/ctl.toml); see `ctl context`.
    #[arg(
        long,
        global = true,
        help_heading = "Connection",
        env = "KCONNECT_CONTEXT"
    )]
    context: Option<String>,

    /// A PEM file of CA certificates to trust for an https worker (besides the system's).
    #[arg(long, global = true, help_heading = "Connection", value_name = "FILE")]
    cacert: Option<PathBuf>,

    /// How to print replies: tables and confirmations, or the worker's JSON for scripts.
    #[arg(
        short = 'o',
        long,
        global = true,
        value_enum,
        default_value_t = Output::Table
    )]
    output: Output,

    /// HTTP basic auth credentials, as USER:PASSWORD.
    #[arg(
        long,
        global = true,
        help_heading = "Connection",
        env = "KCONNECT_USER",
        hide_env_values = true,
        value_name = "USER:PASSWORD",
        value_parser = parse_basic_auth
    )]
    user: Option<BasicAuth>,

    /// Seconds to wait for the worker's reply (Connect itself gives up on a request after 90).
    #[arg(
        long,
        global = true,
        help_heading = "Connection",
        value_name = "SECONDS",
        default_value_t = 120
    )]
    timeout: u64,

    #[command(subcommand)]
    command: CtlCommand,
}

/// `-o`: tables for people, JSON for scripts.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Table,
    Json,
}

/// `--user` credentials; `Debug` does not show the password.
#[derive(Clone)]
struct BasicAuth {
    user: String,
    password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

fn parse_basic_auth(arg: &str) -> Result<BasicAuth, CtlError> {
    match arg.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(BasicAuth {
            user: user.to_string(),
            password: password.to_string(),
        }),
        _ => Err(CtlError::NotUserPassword),
    }
}

fn parse_base_url(arg: &str) -> Result<Url, CtlError> {
    let text = if arg.contains("://") {
        arg.to_string()
    } else {
        format!("http://{arg}")
    };
    let url = Url::parse(&text)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CtlError::Scheme(url.scheme().to_string()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CtlError::NoHost);
    }
    Ok(url)
}

#[derive(Subcommand, Debug)]
enum CtlCommand {
    /// List connector names (GET /connectors), or with --expand a map of name to status and/or
    /// info.
    List {
        /// Include each connector's status or info; repeat or comma-separate for both.
        #[arg(long, value_enum, value_delimiter = ',')]
        expand: Vec<Expand>,
    },
    /// Show a connector's state and its tasks' states (GET /connectors/NAME/status).
    Status {
        /// The connector's name.
        name: String,
    },
    /// Show the worker's version and Kafka cluster id (GET /), or with NAME a connector's
    /// config, tasks and type (GET /connectors/NAME).
    Info {
        /// A connector's name.
        name: Option<String>,
    },
    /// Show a connector in one view: type, state, config, tasks and topics (GET
    /// /connectors/NAME, …/status and …/topics).
    Describe {
        /// The connector's name.
        name: String,
    },
    /// Create connectors or update their configs from files (PUT /connectors/NAME/config);
    /// a connector whose config already matches the file is left alone.
    ///
    /// FILE is any config file `create` takes; the name comes from its `name`.
    Apply {
        /// A connector config file; repeat for several.
        #[arg(short = 'f', long = "file", value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Show a connector's config (GET /connectors/NAME/config).
    Config {
        /// The connector's name.
        name: String,
    },
    /// Create a connector (POST /connectors) from a config file.
    ///
    /// FILE is a connector config as `kconnect standalone` reads it (.properties, .toml,
    /// .yaml/.yml or .json; the name comes from its `name` key), or a .json file already in the
    /// request shape {"name": ..., "config": {...}} (with an optional "initial_state").
    Create {
        /// The connector config file.
        file: PathBuf,
        /// The state the connector starts in (overrides the file's "initial_state").
        #[arg(long, value_enum, ignore_case = true)]
        initial_state: Option<InitialState>,
    },
    /// Create or replace a connector's config (PUT /connectors/NAME/config) from a config file
    /// (any format `create` takes).
    Update {
        /// The connector's name.
        name: String,
        /// The connector config file.
        file: PathBuf,
    },
    /// Change some keys of a connector's config (PATCH /connectors/NAME/config).
    Patch {
        /// The connector's name.
        name: String,
        /// Keys to set, as KEY=VALUE.
        #[arg(
            value_name = "KEY=VALUE",
            value_parser = request::parse_key_value,
            required_unless_present = "remove"
        )]
        set: Vec<(String, String)>,
        /// A key to remove from the config (sent as null); repeatable.
        #[arg(long, value_name = "KEY")]
        remove: Vec<String>,
    },
    /// Delete a connector (DELETE /connectors/NAME).
    Delete {
        /// The connector's name.
        name: String,
    },
    /// Pause a connector and its tasks (PUT /connectors/NAME/pause).
    Pause {
        /// The connector's name.
        name: String,
    },
    /// Resume a paused or stopped connector (PUT /connectors/NAME/resume).
    Resume {
        /// The connector's name.
        name: String,
    },
    /// Stop a connector: shut down its tasks, keep its config (PUT /connectors/NAME/stop).
    /// Offsets can be changed only while it is stopped.
    Stop {
        /// The connector's name.
        name: String,
    },
    /// Restart a connector (POST /connectors/NAME/restart); with --include-tasks or
    /// --only-failed the reply is the resulting status.
    Restart {
        /// The connector's name.
        name: String,
        /// Restart the connector's tasks as well.
        #[arg(long)]
        include_tasks: bool,
        /// Restart only the instances that are FAILED.
        #[arg(long)]
        only_failed: bool,
    },
    /// Restart one task (POST /connectors/NAME/tasks/ID/restart).
    RestartTask {
        /// The connector's name.
        name: String,
        /// The task's number (0, 1, ...).
        id: u32,
    },
    /// Show a connector's task configs (GET /connectors/NAME/tasks).
    Tasks {
        /// The connector's name.
        name: String,
    },
    /// Read, reset or alter a connector's offsets.
    #[command(subcommand)]
    Offsets(OffsetsCommand),
    /// Show the topics a connector has used (GET /connectors/NAME/topics).
    Topics {
        /// The connector's name.
        name: String,
    },
    /// Forget the topics a connector has used (PUT /connectors/NAME/topics/reset).
    TopicsReset {
        /// The connector's name.
        name: String,
    },
    /// List the installed connector plugins (GET /connector-plugins).
    Plugins {
        /// Also list converters, transformations and predicates (connectorsOnly=false).
        #[arg(long)]
        all: bool,
    },
    /// Validate a connector config against its plugin
    /// (PUT /connector-plugins/CLASS/config/validate).
    ///
    /// FILE is any config file `create` takes; CLASS is its `connector.class`. Prints the
    /// errors per key and exits 1 if there are any.
    Validate {
        /// The connector config file.
        file: PathBuf,
        /// Print the worker's raw reply (ConfigInfos JSON) instead of the error list.
        #[arg(long)]
        json: bool,
    },
    /// List the loggers and their levels (GET /admin/loggers).
    Loggers,
    /// List, choose or define the named contexts (worker URL and credentials) of the config
    /// file ($KCONNECT_CONFIG, else ~/.config/kconnect/ctl.toml).
    #[command(subcommand)]
    Context(ContextCommand),
    /// Show a logger's level (GET /admin/loggers/NAME), or set it with LEVEL (PUT).
    Logger {
        /// The logger's name, such as `org.apache.kafka.connect` or `root`.
        name: String,
        /// The new level: OFF, ERROR, WARN, INFO, DEBUG, TRACE.
        level: Option<String>,
    },
    /// Fire a fault on a running kconnect worker (POST /admin/faults, a kconnect endpoint):
    /// `fault task-panic --connector C --task 0`, `fault broker-down`, `fault broker-up`,
    /// `fault broker-latency --ms 200`, `fault request-errors --api Produce --error NOT_ENOUGH_REPLICAS`.
    Fault {
        /// task-panic, task-error, broker-down, broker-up, broker-latency or request-errors.
        kind: String,
        /// The connector, for task faults.
        #[arg(long)]
        connector: Option<String>,
        /// The task id, for task faults.
        #[arg(long)]
        task: Option<u32>,
        /// Milliseconds of latency, for broker-latency (0 removes it).
        #[arg(long)]
        ms: Option<u64>,
        /// The request API, for request-errors (Produce, Fetch, Metadata, …).
        #[arg(long)]
        api: Option<String>,
        /// An error to return, for request-errors; repeat for several requests.
        #[arg(long = "error")]
        errors: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ContextCommand {
    /// List the contexts; `*` marks the current one.
    List,
    /// Make NAME the current context: commands without --url or --context go to its worker.
    Use {
        /// The context's name.
        name: String,
    },
    /// Create or replace the context NAME from --url (required), --user and --cacert.
    Set {
        /// The context's name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum OffsetsCommand {
    /// Show a connector's offsets (GET /connectors/NAME/offsets).
    Get {
        /// The connector's name.
        name: String,
    },
    /// Reset all of a stopped connector's offsets (DELETE /connectors/NAME/offsets).
    Reset {
        /// The connector's name.
        name: String,
    },
    /// Alter a stopped connector's offsets (PATCH /connectors/NAME/offsets).
    ///
    /// FILE is JSON: {"offsets": [{"partition": {...}, "offset": {...}}, ...]} (a bare array is
    /// accepted too); a null offset resets that partition.
    Alter {
        /// The connector's name.
        name: String,
        /// The JSON file of offsets.
        file: PathBuf,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Expand {
    Status,
    Info,
}

impl Expand {
    fn as_str(self) -> &'static str {
        match self {
            Expand::Status => "status",
            Expand::Info => "info",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
#[value(rename_all = "UPPER")]
enum InitialState {
    Running,
    Paused,
    Stopped,
}

impl InitialState {
    fn as_str(self) -> &'static str {
        match self {
            InitialState::Running => "RUNNING",
            InitialState::Paused => "PAUSED",
            InitialState::Stopped => "STOPPED",
        }
    }
}

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Success = 0,
    ServerError = 1,
    Usage = 2,
    NoReply = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Runs one `kconnect ctl` command; see the [module documentation](self) for the exit codes.
pub async fn run(args: CtlArgs) -> ExitCode {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    execute(args, &mut stdout.lock(), &mut stderr.lock())
        .await
        .into()
}

async fn execute(args: CtlArgs, out: &mut impl Write, err: &mut impl Write) -> Exit {
    let config_file = context::config_path();
    if let CtlCommand::Context(command) = &args.command {
        return run_context(command, &args, config_file.as_deref(), out, err);
    }
    let choice = context::Choice {
        url: args.url.as_ref(),
        user: args.user.as_ref(),
        ca_cert: args.cacert.as_deref(),
        context: args.context.as_deref(),
        env_url: std::env::var("KCONNECT_URL").ok().filter(|u| !u.is_empty()),
    };
    let target = match context::resolve(&choice, config_file.as_deref()) {
        Ok(target) => target,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return Exit::Usage;
        }
    };
    let timeout = Duration::from_secs(args.timeout.max(1));
    let client = match client::build_client(&target.url, timeout, target.ca_cert.as_deref()) {
        Ok(client) => client,
        Err(message) => {
            let _ = writeln!(err, "error: cannot set up the HTTP client: {message}");
            return Exit::NoReply;
        }
    };
    let conn = Conn { client, target };
    match &args.command {
        CtlCommand::Describe { name } => return describe(&conn, name, args.output, out, err).await,
        CtlCommand::Apply { files } => return apply(&conn, files, args.output, out, err).await,
        _ => {}
    }
    let request = match request::build(&args.command, args.output == Output::Table) {
        Ok(request) => request,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return Exit::Usage;
        }
    };
    let (status, outcome) = match conn.call(&request, err).await {
        Ok(reply) => reply,
        Err(exit) => return exit,
    };
    let validate_raw = match &args.command {
        CtlCommand::Validate { json, .. } => Some(*json || args.output == Output::Json),
        _ => None,
    };
    match outcome {
        Outcome::Success(body) => match (validate_raw, body) {
            (Some(raw), Some(body)) => {
                let (text, errors) = render_validation(&body);
                let text = if raw { pretty(&body) } else { text };
                let _ = writeln!(out, "{text}");
                if errors > 0 {
                    Exit::ServerError
                } else {
                    Exit::Success
                }
            }
            (_, body) => {
                let text = match args.output {
                    Output::Json => body.as_ref().map(pretty).unwrap_or_default(),
                    Output::Table => render::render(&args.command, status, body.as_ref()),
                };
                if !text.is_empty() {
                    let _ = writeln!(out, "{text}");
                }
                Exit::Success
            }
        },
        Outcome::ServerError { code, message } => {
            let _ = writeln!(err, "error {code}: {message}");
            Exit::ServerError
        }
        Outcome::BadReply(message) => {
            let _ = writeln!(err, "error: {message}");
            Exit::NoReply
        }
    }
}

/// The worker a command talks to.
struct Conn {
    client: reqwest::Client,
    target: context::Target,
}

impl Conn {
    /// Sends `request`; a missing reply is told on `err` and comes back as its exit code.
    async fn call(
        &self,
        request: &request::ApiRequest,
        err: &mut impl Write,
    ) -> Result<(u16, Outcome), Exit> {
        let url = &self.target.url;
        match client::send(&self.client, url, self.target.auth.as_ref(), request).await {
            Ok((status, body)) => Ok((status, client::interpret(status, &body))),
            Err(message) => {
                let _ = writeln!(
                    err,
                    "error: no reply from {url} to {}: {message}",
                    request.describe()
                );
                Err(Exit::NoReply)
            }
        }
    }

    /// A GET whose success is needed: its JSON body, or the exit code after telling why not.
    async fn get(&self, segments: &[&str], err: &mut impl Write) -> Result<Value, Exit> {
        let request = request::ApiRequest::new(request::Method::Get, segments);
        match self.call(&request, err).await? {
            (_, Outcome::Success(body)) => Ok(body.unwrap_or(Value::Null)),
            (_, outcome) => Err(report_failure(outcome, err)),
        }
    }
}

/// Tells a failed outcome on `err`; its exit code.
fn report_failure(outcome: Outcome, err: &mut impl Write) -> Exit {
    match outcome {
        Outcome::Success(_) => Exit::Success,
        Outcome::ServerError { code, message } => {
            let _ = writeln!(err, "error {code}: {message}");
            Exit::ServerError
        }
        Outcome::BadReply(message) => {
            let _ = writeln!(err, "error: {message}");
            Exit::NoReply
        }
    }
}

/// `describe NAME`: the connector's info, then its status and topics (each optional: a worker
/// may have topic tracking off, and a new connector has no status for a moment).
async fn describe(
    conn: &Conn,
    name: &str,
    output: Output,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Exit {
    let info = match conn.get(&["connectors", name], err).await {
        Ok(info) => info,
        Err(exit) => return exit,
    };
    let mut quiet = std::io::sink();
    let status = conn
        .get(&["connectors", name, "status"], &mut quiet)
        .await
        .ok();
    let topics = conn
        .get(&["connectors", name, "topics"], &mut quiet)
        .await
        .ok()
        .and_then(|t| render::topic_names(&t, name));
    let config = info
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let kind = info
        .get("type")
        .or_else(|| status.as_ref().and_then(|s| s.get("type")))
        .cloned()
        .unwrap_or(Value::Null);
    let connector = status.as_ref().and_then(|s| s.get("connector"));
    let tasks: Vec<Value> = status
        .as_ref()
        .and_then(|s| s.get("tasks"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let view = serde_json::json!({
        "name": name,
        "type": kind,
        "state": connector.and_then(|c| c.get("state")),
        "worker_id": connector.and_then(|c| c.get("worker_id")),
        "trace": connector.and_then(|c| c.get("trace")),
        "config": config,
        "tasks": tasks,
        "topics": topics,
    });
    if output == Output::Json {
        let _ = writeln!(out, "{}", pretty(&view));
        return Exit::Success;
    }
    let field = |key: &str| match &view[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    let mut text = format!(
        "Name:       {name}\nType:       {}\nState:      {}\nWorker ID:  {}\n",
        field("type"),
        field("state"),
        field("worker_id"),
    );
    if let Some(trace) = view["trace"].as_str() {
        text.push_str(&format!("Trace:      {}\n", table::first_line(trace, 100)));
    }
    let topics = match &topics {
        Some(t) if !t.is_empty() => t.join(", "),
        Some(_) => "(none yet)".to_string(),
        None => "-".to_string(),
    };
    text.push_str(&format!("Topics:     {topics}\n"));
    text.push_str("\nConfig:\n");
    text.push_str(&render::config_rows(&config).render_indented(2));
    text.push_str("\n\nTasks:\n");
    let task_table = render::task_table(&tasks);
    if task_table.is_empty() {
        text.push_str("  (none)");
    } else {
        text.push_str(&task_table.render_indented(2));
    }
    let _ = writeln!(out, "{text}");
    Exit::Success
}

/// `apply -f FILE…`: PUT each file's config (creating or updating the connector), unless the
/// worker already has exactly that config. Stops at the first failure.
async fn apply(
    conn: &Conn,
    files: &[PathBuf],
    output: Output,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Exit {
    // Every file first: a broken one fails the command before anything changed.
    let mut specs = Vec::new();
    for file in files {
        match request::apply_request(file) {
            Ok(spec) => specs.push(spec),
            Err(message) => {
                let _ = writeln!(err, "error: {message}");
                return Exit::Usage;
            }
        }
    }
    for (name, request) in specs {
        let mut quiet = std::io::sink();
        let current = conn
            .get(&["connectors", &name, "config"], &mut quiet)
            .await
            .ok();
        if current.as_ref() == request.body.as_ref() {
            match output {
                Output::Table => {
                    let _ = writeln!(out, "Connector {name} unchanged");
                }
                Output::Json => {
                    let body =
                        serde_json::json!({"name": name, "config": current, "changed": false});
                    let _ = writeln!(out, "{}", pretty(&body));
                }
            }
            continue;
        }
        match conn.call(&request, err).await {
            Ok((status, Outcome::Success(body))) => {
                let text = match output {
                    Output::Table => render::created_or_updated(status, &name),
                    Output::Json => body.as_ref().map(pretty).unwrap_or_default(),
                };
                let _ = writeln!(out, "{text}");
            }
            Ok((_, outcome)) => return report_failure(outcome, err),
            Err(exit) => return exit,
        }
    }
    Exit::Success
}

/// `context list|use|set`: reads and edits the config file; no request.
fn run_context(
    command: &ContextCommand,
    args: &CtlArgs,
    file: Option<&std::path::Path>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Exit {
    let result = (|| -> Result<String, CtlError> {
        let path = file.ok_or(CtlError::NoConfigFileToEdit)?;
        let mut config = context::ConfigFile::load(path)?;
        match command {
            ContextCommand::List => {
                let contexts = config.all()?;
                let current = config.current();
                if args.output == Output::Json {
                    let list: Vec<Value> = contexts
                        .iter()
                        .map(|c| {
                            serde_json::json!({
                                "name": c.name,
                                "url": c.url.as_str(),
                                "user": c.auth.as_ref().map(|a| a.user.clone()),
                                "ca_cert": c.ca_cert,
                                "current": current.as_deref() == Some(c.name.as_str()),
                            })
                        })
                        .collect();
                    return Ok(pretty(&Value::Array(list)));
                }
                if contexts.is_empty() {
                    return Ok(format!(
                        "No contexts in {} (add one with `kconnect ctl context set NAME --url URL`)",
                        config.path().display()
                    ));
                }
                let mut table = table::Table::new(&["CURRENT", "NAME", "URL", "USER"]);
                for c in contexts {
                    let mark = if current.as_deref() == Some(c.name.as_str()) {
                        "*"
                    } else {
                        ""
                    };
                    table.row(vec![
                        mark.to_string(),
                        c.name,
                        c.url.to_string(),
                        c.auth.map(|a| a.user).unwrap_or_default(),
                    ]);
                }
                Ok(table.render())
            }
            ContextCommand::Use { name } => {
                config.set_current(name)?;
                config.save()?;
                Ok(format!("Switched to context {name}"))
            }
            ContextCommand::Set { name } => {
                let url = args
                    .url
                    .as_ref()
                    .ok_or(CtlError::setting("context set", CtlError::NoUrl))?;
                config.set_context(name, url, args.user.as_ref(), args.cacert.as_deref());
                config.save()?;
                Ok(format!(
                    "Saved context {name} in {}",
                    config.path().display()
                ))
            }
        }
    })();
    match result {
        Ok(text) => {
            let _ = writeln!(out, "{text}");
            Exit::Success
        }
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            Exit::Usage
        }
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A readable form of Connect's ConfigInfos, and its error count:
///
/// ```text
/// FileStreamSource: 1 error
///   topic: Missing required configuration "topic" which has no default value.
/// ```
fn render_validation(body: &Value) -> (String, u64) {
    let class = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("connector");
    let configs = body
        .get("configs")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut lines = Vec::new();
    let mut counted = 0u64;
    for config in configs {
        let name = config
            .pointer("/value/name")
            .or_else(|| config.pointer("/definition/name"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        let errors = config
            .pointer("/value/errors")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for error in errors {
            counted += 1;
            let text = error
                .as_str()
                .map_or_else(|| error.to_string(), str::to_string);
            lines.push(format!("  {name}: {text}"));
        }
    }
    let count = body
        .get("error_count")
        .and_then(Value::as_u64)
        .unwrap_or(counted);
    let header = match count {
        0 => format!("{class}: config is valid"),
        1 => format!("{class}: 1 error"),
        n => format!("{class}: {n} errors"),
    };
    lines.insert(0, header);
    (lines.join("\n"), count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};
    use serde_json::json;

    /// `CtlArgs` as `kconnect` wires it: a `ctl` subcommand of the top-level parser.
    #[derive(Parser, Debug)]
    #[command(name = "kconnect")]
    struct TestCli {
        #[command(subcommand)]
        command: TestCommand,
    }

    #[derive(Subcommand, Debug)]
    enum TestCommand {
        /// Talk to a worker's REST API.
        Ctl(CtlArgs),
    }

    fn parse(args: &[&str]) -> Result<CtlArgs, clap::Error> {
        let mut argv = vec!["kconnect", "ctl"];
        argv.extend_from_slice(args);
        TestCli::try_parse_from(argv).map(|cli| match cli.command {
            TestCommand::Ctl(args) => args,
        })
    }

    fn built(args: &[&str]) -> request::ApiRequest {
        request::build(&parse(args).unwrap().command, false).unwrap()
    }

    fn url_of(args: &[&str]) -> String {
        let parsed = parse(args).unwrap();
        let base = parsed
            .url
            .clone()
            .unwrap_or_else(|| Url::parse(context::DEFAULT_URL).unwrap());
        request::build(&parsed.command, false)
            .unwrap()
            .url(&base)
            .to_string()
    }

    #[test]
    fn the_cli_is_well_formed() {
        TestCli::command().debug_assert();
    }

    #[test]
    fn global_options() {
        let args = parse(&["status", "c"]).unwrap();
        assert!(args.url.is_none());
        assert_eq!(args.output, Output::Table);
        let args = parse(&["-o", "json", "status", "c"]).unwrap();
        assert_eq!(args.output, Output::Json);
        assert!(args.user.is_none());
        let args = parse(&["status", "c", "--url", "connect:8083", "--user", "u:p:q"]).unwrap();
        assert_eq!(args.url.unwrap().as_str(), "http://connect:8083/");
        let user = args.user.unwrap();
        assert_eq!((user.user.as_str(), user.password.as_str()), ("u", "p:q"));
        assert!(!format!("{user:?}").contains("p:q"));
        let args = parse(&["--url", "https://c.example/connect", "loggers"]).unwrap();
        assert_eq!(args.url.unwrap().as_str(), "https://c.example/connect");

        for bad in [
            &["--url", "ftp://x", "loggers"][..],
            &["--url", "http://", "loggers"],
            &["--user", "nopassword", "loggers"],
            &["--timeout", "x", "loggers"],
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn usage_errors_exit_2() {
        for bad in [
            &[][..],
            &["status"],
            &["nonsense"],
            &["patch", "c"],
            &["patch", "c", "novalue"],
            &["restart-task", "c", "x"],
            &["create", "f", "--initial-state", "SLEEPING"],
            &["list", "--expand", "everything"],
            &["offsets", "alter", "c"],
        ] {
            let error = parse(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn help_documents_the_exit_codes() {
        let error = parse(&["--help"]).unwrap_err();
        assert_eq!(error.exit_code(), 0);
        let help = error.render().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("restart-task"), "{help}");
        let help = parse(&["validate", "--help"])
            .unwrap_err()
            .render()
            .to_string();
        assert!(help.contains("exits 1"), "{help}");
    }

    #[test]
    fn request_paths() {
        use request::Method::*;
        let cases: Vec<(&[&str], request::Method, &str)> = vec![
            (&["list"], Get, "http://127.0.0.1:8083/connectors"),
            (
                &["list", "--expand", "status", "--expand", "info"],
                Get,
                "http://127.0.0.1:8083/connectors?expand=status&expand=info",
            ),
            (
                &["list", "--expand", "info,status,info"],
                Get,
                "http://127.0.0.1:8083/connectors?expand=info&expand=status",
            ),
            (
                &["status", "c"],
                Get,
                "http://127.0.0.1:8083/connectors/c/status",
            ),
            (&["info", "c"], Get, "http://127.0.0.1:8083/connectors/c"),
            (&["info"], Get, "http://127.0.0.1:8083/"),
            (
                &["describe", "c"],
                Get,
                "http://127.0.0.1:8083/connectors/c",
            ),
            (
                &["config", "c"],
                Get,
                "http://127.0.0.1:8083/connectors/c/config",
            ),
            (
                &["delete", "c"],
                Delete,
                "http://127.0.0.1:8083/connectors/c",
            ),
            (
                &["pause", "c"],
                Put,
                "http://127.0.0.1:8083/connectors/c/pause",
            ),
            (
                &["resume", "c"],
                Put,
                "http://127.0.0.1:8083/connectors/c/resume",
            ),
            (
                &["stop", "c"],
                Put,
                "http://127.0.0.1:8083/connectors/c/stop",
            ),
            (
                &["restart", "c"],
                Post,
                "http://127.0.0.1:8083/connectors/c/restart",
            ),
            (
                &["restart", "c", "--include-tasks", "--only-failed"],
                Post,
                "http://127.0.0.1:8083/connectors/c/restart?includeTasks=true&onlyFailed=true",
            ),
            (
                &["restart", "c", "--only-failed"],
                Post,
                "http://127.0.0.1:8083/connectors/c/restart?onlyFailed=true",
            ),
            (
                &["restart-task", "c", "2"],
                Post,
                "http://127.0.0.1:8083/connectors/c/tasks/2/restart",
            ),
            (
                &["tasks", "c"],
                Get,
                "http://127.0.0.1:8083/connectors/c/tasks",
            ),
            (
                &["offsets", "get", "c"],
                Get,
                "http://127.0.0.1:8083/connectors/c/offsets",
            ),
            (
                &["offsets", "reset", "c"],
                Delete,
                "http://127.0.0.1:8083/connectors/c/offsets",
            ),
            (
                &["topics", "c"],
                Get,
                "http://127.0.0.1:8083/connectors/c/topics",
            ),
            (
                &["topics-reset", "c"],
                Put,
                "http://127.0.0.1:8083/connectors/c/topics/reset",
            ),
            (&["plugins"], Get, "http://127.0.0.1:8083/connector-plugins"),
            (
                &["plugins", "--all"],
                Get,
                "http://127.0.0.1:8083/connector-plugins?connectorsOnly=false",
            ),
            (&["loggers"], Get, "http://127.0.0.1:8083/admin/loggers"),
            (
                &["logger", "org.apache.kafka"],
                Get,
                "http://127.0.0.1:8083/admin/loggers/org.apache.kafka",
            ),
            (
                &["logger", "org.apache.kafka", "DEBUG"],
                Put,
                "http://127.0.0.1:8083/admin/loggers/org.apache.kafka",
            ),
        ];
        for (args, method, url) in cases {
            let request = built(args);
            assert_eq!(request.method, method, "{args:?}");
            assert_eq!(url_of(args), url, "{args:?}");
            let has_body = args[0] == "logger" && args.len() == 3;
            assert_eq!(request.body.is_some(), has_body, "{args:?}");
        }
        assert_eq!(
            built(&["logger", "x", "DEBUG"]).body,
            Some(json!({"level": "DEBUG"}))
        );
        assert_eq!(
            url_of(&["status", "my connector", "--url", "http://h:1/base/"]),
            "http://h:1/base/connectors/my%20connector/status"
        );
    }

    #[test]
    fn request_bodies_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_string()
        };
        let props = file(
            "c.properties",
            "name=c\nconnector.class=FileStreamSource\ntopic=t\n",
        );
        let wrapped = file(
            "w.json",
            r#"{"name":"w","config":{"connector.class":"FileStreamSink","topics":"t"}}"#,
        );

        let request = built(&["create", &props, "--initial-state", "paused"]);
        assert_eq!(request.method, request::Method::Post);
        assert_eq!(request.segments, ["connectors"]);
        assert_eq!(
            request.body,
            Some(json!({
                "name": "c",
                "config": {"connector.class": "FileStreamSource", "name": "c", "topic": "t"},
                "initial_state": "PAUSED"
            }))
        );
        let request = built(&["create", &wrapped]);
        assert_eq!(
            request.body,
            Some(
                json!({"name": "w", "config": {"connector.class": "FileStreamSink", "topics": "t"}})
            )
        );

        let request = built(&["update", "w", &wrapped]);
        assert_eq!(request.method, request::Method::Put);
        assert_eq!(request.segments, ["connectors", "w", "config"]);
        assert_eq!(
            request.body,
            Some(json!({"connector.class": "FileStreamSink", "topics": "t"}))
        );

        let request = built(&["validate", &props]);
        assert_eq!(request.method, request::Method::Put);
        assert_eq!(
            request.segments,
            [
                "connector-plugins",
                "FileStreamSource",
                "config",
                "validate"
            ]
        );
        assert_eq!(request.body.unwrap()["topic"], "t");

        let request = built(&["patch", "c", "a=1", "b=x=y", "--remove", "old"]);
        assert_eq!(request.method, request::Method::Patch);
        assert_eq!(request.segments, ["connectors", "c", "config"]);
        assert_eq!(
            request.body,
            Some(json!({"a": "1", "b": "x=y", "old": null}))
        );
        let request = built(&["patch", "c", "--remove", "old"]);
        assert_eq!(request.body, Some(json!({"old": null})));

        let offsets = file(
            "offsets.json",
            r#"{"offsets":[{"partition":{"filename":"f"},"offset":null}]}"#,
        );
        let request = built(&["offsets", "alter", "c", &offsets]);
        assert_eq!(request.method, request::Method::Patch);
        assert_eq!(request.segments, ["connectors", "c", "offsets"]);
        assert_eq!(
            request.body,
            Some(json!({"offsets": [{"partition": {"filename": "f"}, "offset": null}]}))
        );

        // Local input errors: reported without sending anything.
        let nameless = file("n.properties", "connector.class=X\n");
        let classless = file("k.properties", "name=k\n");
        let not_offsets = file("bad-offsets.json", r#"{"partition": {}}"#);
        for args in [
            vec!["create", nameless.as_str()],
            vec!["validate", classless.as_str()],
            vec!["create", "/nonexistent/c.properties"],
            vec!["offsets", "alter", "c", not_offsets.as_str()],
            vec!["offsets", "alter", "c", props.as_str()],
            vec!["patch", "c", "a=1", "--remove", "a"],
        ] {
            let parsed = parse(&args).unwrap();
            assert!(request::build(&parsed.command, false).is_err(), "{args:?}");
        }
    }

    #[test]
    fn validation_rendering() {
        let body = json!({
            "name": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "error_count": 2,
            "groups": ["Common"],
            "configs": [
                {"definition": {"name": "topic"}, "value": {"name": "topic", "value": null,
                    "recommended_values": [], "errors": ["Missing required configuration \"topic\""],
                    "visible": true}},
                {"definition": {"name": "tasks.max"}, "value": {"name": "tasks.max", "value": "1",
                    "recommended_values": [], "errors": [], "visible": true}},
                {"definition": {"name": "batch.size"}, "value": {"name": "batch.size",
                    "value": "x", "errors": ["Invalid value x"], "visible": true}}
            ]
        });
        let (text, errors) = render_validation(&body);
        assert_eq!(errors, 2);
        assert_eq!(
            text,
            "org.apache.kafka.connect.file.FileStreamSourceConnector: 2 errors\n  \
             topic: Missing required configuration \"topic\"\n  batch.size: Invalid value x"
        );
        let (text, errors) =
            render_validation(&json!({"name": "X", "error_count": 0, "configs": []}));
        assert_eq!((text.as_str(), errors), ("X: config is valid", 0));
    }

    #[test]
    fn exit_code_values() {
        assert_eq!(ExitCode::from(Exit::Success), ExitCode::SUCCESS);
        assert_eq!(Exit::ServerError as u8, 1);
        assert_eq!(Exit::Usage as u8, 2);
        assert_eq!(Exit::NoReply as u8, 3);
    }

    /// End to end against a canned HTTP server.
    mod http {
        use super::*;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::TcpListener;

        /// Serves one connection with `status`, `content_type` and `body`; returns the port and
        /// a handle yielding the raw request it received.
        async fn canned(
            status: &'static str,
            content_type: &'static str,
            body: &'static str,
        ) -> (u16, tokio::task::JoinHandle<String>) {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let handle = tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let n = socket.read(&mut buffer).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|line| {
                                let (name, value) = line.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                socket.write_all(response.as_bytes()).await.unwrap();
                socket.shutdown().await.ok();
                String::from_utf8_lossy(&request).to_string()
            });
            (port, handle)
        }

        async fn call(port: u16, args: &[&str]) -> (Exit, String, String) {
            let url = format!("http://127.0.0.1:{port}");
            let mut argv = vec!["--url", url.as_str(), "--timeout", "10"];
            argv.extend_from_slice(args);
            let parsed = parse(&argv).unwrap();
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let exit = execute(parsed, &mut out, &mut err).await;
            (
                exit,
                String::from_utf8(out).unwrap(),
                String::from_utf8(err).unwrap(),
            )
        }

        #[tokio::test]
        async fn success_prints_pretty_json_and_exits_0() {
            let (port, server) = canned(
                "200 OK",
                "application/json",
                r#"{"name":"c","connector":{"state":"RUNNING","worker_id":"w:8083"},"tasks":[],"type":"source"}"#,
            )
            .await;
            let (exit, out, err) = call(
                port,
                &["--user", "admin:s3cret", "-o", "json", "status", "c"],
            )
            .await;
            assert_eq!(exit, Exit::Success, "{err}");
            assert_eq!(
                out,
                "{\n  \"name\": \"c\",\n  \"connector\": {\n    \"state\": \"RUNNING\",\n    \
                 \"worker_id\": \"w:8083\"\n  },\n  \"tasks\": [],\n  \"type\": \"source\"\n}\n"
            );
            let request = server.await.unwrap();
            assert!(
                request.starts_with("GET /connectors/c/status HTTP/1.1\r\n"),
                "{request}"
            );
            // base64("admin:s3cret")
            assert!(
                request
                    .to_ascii_lowercase()
                    .contains("authorization: basic ywrtaw46cznjcmv0"),
                "{request}"
            );
        }

        #[tokio::test]
        async fn a_request_body_is_sent_as_json() {
            let (port, server) = canned("200 OK", "application/json", r#"{"a":"1"}"#).await;
            let (exit, _, err) = call(port, &["patch", "c", "a=1", "--remove", "b"]).await;
            assert_eq!(exit, Exit::Success, "{err}");
            let request = server.await.unwrap();
            assert!(
                request.starts_with("PATCH /connectors/c/config HTTP/1.1\r\n"),
                "{request}"
            );
            assert!(
                request
                    .to_ascii_lowercase()
                    .contains("content-type: application/json"),
                "{request}"
            );
            assert!(request.ends_with(r#"{"a":"1","b":null}"#), "{request}");
        }

        #[tokio::test]
        async fn no_content_prints_nothing_and_exits_0() {
            let (port, server) = canned("204 No Content", "application/json", "").await;
            let (exit, out, err) = call(port, &["-o", "json", "stop", "c"]).await;
            assert_eq!((exit, out.as_str(), err.as_str()), (Exit::Success, "", ""));
            let request = server.await.unwrap();
            assert!(
                request.starts_with("PUT /connectors/c/stop HTTP/1.1\r\n"),
                "{request}"
            );
        }

        #[tokio::test]
        async fn actions_are_confirmed_in_a_word() {
            let (port, _server) = canned("202 Accepted", "application/json", "").await;
            let (exit, out, err) = call(port, &["pause", "c"]).await;
            assert_eq!(
                (exit, out.as_str(), err.as_str()),
                (Exit::Success, "Paused connector c\n", "")
            );
        }

        #[tokio::test]
        async fn a_connect_error_exits_1() {
            let (port, _server) = canned(
                "404 Not Found",
                "application/json",
                r#"{"error_code":404,"message":"Connector c not found"}"#,
            )
            .await;
            let (exit, out, err) = call(port, &["status", "c"]).await;
            assert_eq!(exit, Exit::ServerError);
            assert_eq!(out, "");
            assert_eq!(err, "error 404: Connector c not found\n");
        }

        #[tokio::test]
        async fn validation_errors_exit_1() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("c.properties");
            std::fs::write(&path, "name=c\nconnector.class=FileStreamSource\n").unwrap();
            let (port, server) = canned(
                "200 OK",
                "application/json",
                r#"{"name":"FileStreamSource","error_count":1,"groups":[],"configs":[{"definition":{"name":"topic"},"value":{"name":"topic","value":null,"recommended_values":[],"errors":["Missing required configuration"],"visible":true}}]}"#,
            )
            .await;
            let (exit, out, _) = call(port, &["validate", path.to_str().unwrap()]).await;
            assert_eq!(exit, Exit::ServerError);
            assert_eq!(
                out,
                "FileStreamSource: 1 error\n  topic: Missing required configuration\n"
            );
            let request = server.await.unwrap();
            assert!(
                request.starts_with(
                    "PUT /connector-plugins/FileStreamSource/config/validate HTTP/1.1\r\n"
                ),
                "{request}"
            );
        }

        #[tokio::test]
        async fn a_reply_that_is_not_json_exits_3() {
            let (port, _server) = canned("200 OK", "text/html", "<html>hi</html>").await;
            let (exit, out, err) = call(port, &["list"]).await;
            assert_eq!(exit, Exit::NoReply);
            assert_eq!(out, "");
            assert!(err.contains("not JSON"), "{err}");
        }

        #[tokio::test]
        async fn an_unreachable_worker_exits_3() {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            drop(listener);
            let (exit, out, err) = call(port, &["list"]).await;
            assert_eq!(exit, Exit::NoReply);
            assert_eq!(out, "");
            assert!(err.starts_with("error: no reply from"), "{err}");
            assert!(err.contains("GET /connectors"), "{err}");
        }

        #[tokio::test]
        async fn a_bad_input_file_exits_2_without_a_request() {
            let (exit, _, err) = call(1, &["create", "/nonexistent/c.properties"]).await;
            assert_eq!(exit, Exit::Usage);
            assert!(err.contains("/nonexistent/c.properties"), "{err}");
        }
    }
}
