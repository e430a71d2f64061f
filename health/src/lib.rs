//! From scraped samples to health. The standard request metrics are data
//! ([`RedMetric`]); a scrape's request series ([`Matcher`], [`ScrapeSeries`]) become the
//! requests since the previous scrape ([`SeriesMemory`], with counter resets handled);
//! the [`Recorder`] adds them up in buckets of time per instance; [`Thresholds`] turn
//! statistics into [`State`]s and roll them up; a [`HealthReport`] is everything at one
//! moment.
//!
//! This crate does no I/O, reads no clock (time comes in as unix seconds) and never
//! panics on odd input.

mod extract;
mod mapping;
mod recorder;
mod report;
mod state;
mod stats;

pub use extract::{Coverage, Matcher, ScrapeSeries, Scraped, SeriesMemory};
pub use mapping::{Outcome, RedMetric, StatusScheme};
pub use recorder::{BucketRow, Check, InstanceKey, Recorder};
pub use report::{
    Figures, GroupHealth, HealthReport, InstanceHealth, ServiceHealth, ServiceTopology,
};
pub use state::{State, Thresholds};
pub use stats::{Quantile, RequestStats, MAX_BUCKETS};
