//! Logical types (Decimal, Date, Time, Timestamp).
