-- Request statistics per service and instance over buckets of time: minutes while recent,
-- hours after downsampling. `instance` is empty for the service as a whole; `start` is
-- unix seconds, a multiple of `seconds` (60 or 3600). `buckets` holds the latency
-- histogram as JSON `[["le", cumulative count], ...]`. Raw samples are never stored.
CREATE TABLE health_buckets (
    service TEXT NOT NULL,
    instance TEXT NOT NULL,
    seconds BIGINT NOT NULL,
    start BIGINT NOT NULL,
    requests DOUBLE PRECISION NOT NULL,
    errors DOUBLE PRECISION NOT NULL,
    client_errors DOUBLE PRECISION NOT NULL,
    duration_sum_seconds DOUBLE PRECISION NOT NULL,
    duration_count DOUBLE PRECISION NOT NULL,
    buckets TEXT NOT NULL,
    scrapes BIGINT NOT NULL,
    scrapes_up BIGINT NOT NULL,
    PRIMARY KEY (service, instance, seconds, start)
);
CREATE INDEX health_buckets_by_time ON health_buckets (seconds, start);
