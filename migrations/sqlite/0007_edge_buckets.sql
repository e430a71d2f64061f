-- Statistics per edge of the observed call graph over buckets of time: minutes while
-- recent, hours after downsampling. The key columns are what the spans said, '' where
-- they said nothing (a version, the environment, the operation); `caller_kind` and
-- `callee_kind` are `service`, `database`, `virtual` or `user`, `mode` is `sync` or
-- `async`. `start` is unix seconds, a multiple of `seconds` (60 or 3600).
-- `latency_buckets` (seconds) and `fan_out_buckets` (calls per parent request) hold
-- cumulative histograms as JSON `[["le", count], ...]`, like `health_buckets.buckets`.
CREATE TABLE edge_buckets (
    seconds INTEGER NOT NULL,
    start INTEGER NOT NULL,
    caller TEXT NOT NULL,
    caller_kind TEXT NOT NULL,
    callee TEXT NOT NULL,
    callee_kind TEXT NOT NULL,
    caller_version TEXT NOT NULL,
    callee_version TEXT NOT NULL,
    environment TEXT NOT NULL,
    protocol TEXT NOT NULL,
    mode TEXT NOT NULL,
    operation TEXT NOT NULL,
    calls REAL NOT NULL,
    errors REAL NOT NULL,
    client_errors REAL NOT NULL,
    duration_sum_seconds REAL NOT NULL,
    duration_count REAL NOT NULL,
    latency_buckets TEXT NOT NULL,
    fan_out_count REAL NOT NULL,
    fan_out_sum REAL NOT NULL,
    fan_out_buckets TEXT NOT NULL,
    PRIMARY KEY (start, seconds, caller, caller_kind, callee, callee_kind, caller_version,
                 callee_version, environment, protocol, mode, operation)
);
-- A time range reads the primary key (it leads with `start`); one service's edges read
-- these two, as caller or as callee.
CREATE INDEX edge_buckets_by_caller ON edge_buckets (caller, start);
CREATE INDEX edge_buckets_by_callee ON edge_buckets (callee, start);
