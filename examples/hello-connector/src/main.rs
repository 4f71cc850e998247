//! `hello-kconnect`: the `kconnect` command line with the built-in plugins and this crate's
//! counting source. Run it as one runs `kconnect`:
//!
//! ```text
//! hello-kconnect standalone config/worker.properties config/counting-source.properties
//! ```

use std::process::ExitCode;

use kconnect_connectors::registry::PluginRegistry;

fn main() -> ExitCode {
    let mut plugins = PluginRegistry::builtin();
    hello_connector::register(&mut plugins);
    kconnect::run_with(plugins)
}
