//! STUB: replaced by the layered layout (helper C).
