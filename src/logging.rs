//! The process's log: tracing events to stderr, through a filter the REST API can change
//! (`/admin/loggers`), in a form that suits files as well as terminals.
//!
//! - **No colours unless stderr is a terminal** (nor when `NO_COLOR` is set): escape codes in a
//!   file or a log shipper are noise.
//! - **One line per event when stderr is not a terminal**: newlines inside an event (a
//!   multi-line error, a backtrace) are written as `\n`, so every line of a log file starts with
//!   a timestamp and a level.
//! - **Spans name connectors and tasks, not actors**: ractor wraps every actor's message loop in
//!   an `Actor{id=…}` span, and an actor spawned from another's handler nests in its parent's, so
//!   lines began `Actor{id="0.0"}:Actor{id="0.1"}:…`. Those spans are left out of the output;
//!   kconnect's own `connector{connector=…}` and `task{connector=… task=…}` spans remain.
//! - **Panics are log events**: the default hook writes several raw lines to stderr.
//! - **No resolved secrets**: a value a config provider resolved (`${file:…}`, `${env:…}`)
//!   is written as `[hidden]`, whoever logs it (a plugin naming its settings, a client error).

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use tracing::Metadata;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer};

use crate::rest::LogControl;

/// Installs the process's subscriber and panic hook. `level` (`--log-level`) wins over
/// `RUST_LOG`; the default is `info`.
pub fn init(level: Option<&str>) -> Arc<LogControl> {
    let wanted = level
        .map(str::to_string)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let (filter, wanted) = match EnvFilter::try_new(&wanted) {
        Ok(f) => (f, wanted),
        Err(e) => {
            eprintln!("kconnect: invalid --log-level/RUST_LOG ({e}); using info");
            (EnvFilter::new("info"), "info".to_string())
        }
    };
    let terminal = io::stderr().is_terminal();
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let style = Style {
        ansi: terminal && !no_color,
        one_line: !terminal,
    };
    let max = filter.max_level_hint();
    let (filter, handle) = reload::Layer::new(filter);
    let seen = Arc::default();
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt_layer(io::stderr, style))
        // Outermost, so that it hears of every callsite, whatever the filter decides.
        .with(crate::rest::loggers::KnownTargets(Arc::clone(&seen)))
        .init();
    // After `init`, which sets it from the whole subscriber's hint: `KnownTargets` wants every
    // callsite, so that hint is TRACE.
    set_log_max_level(max);
    log_panics();
    Arc::new(LogControl::new(handle, &wanted, seen))
}

/// Sets the `log` crate's max level to what the tracing filter lets through (`None`: it may let
/// anything through). librdkafka's Rust wrapper logs through `log`, at TRACE for every message it
/// frees; `log`'s macros test this level before anything else, so with it at the filter's level a
/// disabled line costs a comparison instead of a trip through the tracing subscriber. Called
/// at start and whenever `/admin/loggers` changes the filter.
pub fn set_log_max_level(max: Option<tracing::level_filters::LevelFilter>) {
    use tracing::level_filters::LevelFilter;
    let level = match max.unwrap_or(LevelFilter::TRACE) {
        LevelFilter::OFF => log::LevelFilter::Off,
        LevelFilter::ERROR => log::LevelFilter::Error,
        LevelFilter::WARN => log::LevelFilter::Warn,
        LevelFilter::INFO => log::LevelFilter::Info,
        LevelFilter::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    log::set_max_level(level);
}

/// How events are written.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Colours and bold text (ANSI escape codes).
    pub ansi: bool,
    /// Newlines inside an event written as `\n`.
    pub one_line: bool,
}

/// The formatting layer: `make_writer`'s output in `style`, without ractor's actor spans.
pub fn fmt_layer<S, W>(make_writer: W, style: Style) -> impl Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // A per-layer filter: a span it rejects is left out of this layer's span list, while the
    // events inside it are still written.
    tracing_subscriber::fmt::layer()
        .with_ansi(style.ansi)
        .with_writer(OneLine {
            inner: make_writer,
            enabled: style.one_line,
        })
        .with_filter(filter_fn(|meta| !is_actor_span(meta)))
}

/// ractor's `#[instrument(name = "Actor")]` spans around actor start-up and message loops.
fn is_actor_span(meta: &Metadata<'_>) -> bool {
    meta.is_span() && meta.name() == "Actor" && meta.target().starts_with("ractor")
}

/// Writes each event as one line when `enabled` (see the module documentation).
struct OneLine<W> {
    inner: W,
    enabled: bool,
}

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for OneLine<W> {
    type Writer = OneLineWriter<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter {
            inner: self.inner.make_writer(),
            enabled: self.enabled,
        }
    }
}

struct OneLineWriter<W> {
    inner: W,
    enabled: bool,
}

impl<W: Write> Write for OneLineWriter<W> {
    /// The fmt layer hands over each formatted event, trailing newline included, in one
    /// `write_all`; taking all of `buf` at once keeps it in one piece.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let shown: std::borrow::Cow<'_, [u8]> =
            match kconnect_actors::config_providers::hide_secrets(&text) {
                std::borrow::Cow::Owned(hidden) => hidden.into_bytes().into(),
                std::borrow::Cow::Borrowed(_) => buf.into(),
            };
        if self.enabled {
            self.inner.write_all(&one_line(&shown))?;
        } else {
            self.inner.write_all(&shown)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `event` with every newline but a trailing one written as `\n` (and carriage returns as `\r`).
fn one_line(event: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let body = event.strip_suffix(b"\n").unwrap_or(event);
    if !body.iter().any(|b| matches!(b, b'\n' | b'\r')) {
        return event.into();
    }
    let mut out = Vec::with_capacity(event.len() + 16);
    for &b in body {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
    out.push(b'\n');
    out.into()
}

/// Routes panics through tracing: one event with the message, the location and (when
/// `RUST_BACKTRACE` asks for one) the backtrace.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let location = info.location().map(ToString::to_string);
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = (backtrace.status() == std::backtrace::BacktraceStatus::Captured)
            .then(|| backtrace.to_string());
        // A panic in a connector or task actor is caught by ractor and reported by the
        // actor's supervisor (a restart at WARN, FAILED at ERROR, once); this line only adds
        // where it happened. Anywhere else nothing else reports it.
        let supervised = tracing::Span::current()
            .metadata()
            .is_some_and(|m| m.target().starts_with("kconnect_actors"));
        if supervised {
            tracing::warn!(target: "kconnect::panic", location, backtrace, "panicked: {message}");
        } else {
            tracing::error!(target: "kconnect::panic", location, backtrace, "panicked: {message}");
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A writer into a shared buffer, for reading back what the layer wrote.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn written(style: Style, f: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let out = buffer.clone();
        let subscriber = tracing_subscriber::registry().with(fmt_layer(move || out.clone(), style));
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    const FILE: Style = Style {
        ansi: false,
        one_line: true,
    };

    #[test]
    fn lines_name_the_connector_and_task_not_actor_ids() {
        let log = written(FILE, || {
            // As ractor nests them: the parent actor's loop, then the child's.
            let parent = tracing::info_span!(target: "ractor::actor", "Actor", id = "0.1");
            let _parent = parent.enter();
            let child = tracing::info_span!(target: "ractor::actor", "Actor", id = "0.3");
            let _child = child.enter();
            let task = tracing::info_span!("task", connector = %"src", task = 0);
            let _task = task.enter();
            tracing::info!("source task started");
        });
        assert!(log.contains("task{connector=src task=0}"), "{log}");
        assert!(log.contains("source task started"), "{log}");
        assert!(!log.contains("Actor"), "{log}");
    }

    #[test]
    fn an_event_with_newlines_is_one_line_for_files() {
        let log = written(FILE, || {
            tracing::error!("task FAILED: boom\n(failed more than 1 times)");
        });
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.ends_with('\n'));
        assert!(log.contains("boom\\n(failed more than 1 times)"), "{log}");
    }

    #[test]
    fn files_get_no_colours_and_terminals_keep_newlines() {
        let log = written(FILE, || tracing::info!(field = 1, "plain"));
        assert!(!log.contains('\x1b'), "{log:?}");
        let terminal = Style {
            ansi: true,
            one_line: false,
        };
        let log = written(terminal, || tracing::info!("two\nlines"));
        assert!(log.contains('\x1b'), "{log:?}");
        assert_eq!(log.lines().count(), 2, "{log:?}");
    }

    #[test]
    fn one_line_leaves_single_line_events_alone() {
        assert_eq!(&*one_line(b"a b\n"), b"a b\n");
        assert_eq!(&*one_line(b"a\nb\r\n"), b"a\\nb\\r\n");
        assert_eq!(&*one_line(b"no newline"), b"no newline");
    }
}
