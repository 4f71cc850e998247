//! Built-in connectors: FileStream source and sink, Verifiable source and sink.
