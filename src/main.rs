//! The `kconnect` binary: the command line with the built-in plugins.

use std::process::ExitCode;

use kconnect_connectors::registry::PluginRegistry;

fn main() -> ExitCode {
    kconnect::run_with(PluginRegistry::builtin())
}
