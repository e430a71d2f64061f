-- Request statistics per service and instance over buckets of time: minutes while recent,
-- hours after downsampling. `instance` is empty for the service as a whole; `start` is
-- unix seconds, a multiple of `seconds` (60 or 3600). `buckets` holds the latency
-- histogram as JSON `[["le", cumulative count], ...]`. Raw samples are never stored.
CREATE TABLE health_buckets (
    service TEXT NOT NULL,
    instance TEXT NOT NULL,
    seconds INTEGER NOT NULL,
    start INTEGER NOT NULL,
    requests REAL NOT NULL,
    errors REAL NOT NULL,
    client_errors REAL NOT NULL,
    duration_sum_seconds REAL NOT NULL,
    duration_count REAL NOT NULL,
    buckets TEXT NOT NULL,
    scrapes INTEGER NOT NULL,
    scrapes_up INTEGER NOT NULL,
    PRIMARY KEY (service, instance, seconds, start)
);
CREATE INDEX health_buckets_by_time ON health_buckets (seconds, start);
