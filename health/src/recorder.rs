//! What the scrapes of every instance add up to over time: request statistics in buckets
//! of a fixed size (a minute in production, injectable), the last scrape and probe
//! results, closed buckets handed out once for storage. Time comes in as arguments
//! (unix seconds): nothing here reads a clock.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::stats::RequestStats;

/// An instance of a service, as scraped: the service's name and the instance's identity
/// (its base URL, or the target URL of a static target).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InstanceKey {
    pub service: String,
    pub instance: String,
}

/// The statistics of one bucket of time for one instance or, with `instance` empty, for
/// the service as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketRow {
    pub service: String,
    /// Empty for the whole service's row.
    pub instance: String,
    /// Start of the bucket, unix seconds, a multiple of the bucket size.
    pub start: i64,
    pub stats: RequestStats,
    /// Scrapes that ended in the bucket, and how many of them succeeded.
    pub scrapes: u32,
    pub scrapes_up: u32,
}

impl BucketRow {
    /// A row with nothing counted yet.
    pub fn empty(service: &str, instance: &str, start: i64) -> BucketRow {
        BucketRow {
            service: service.to_owned(),
            instance: instance.to_owned(),
            start,
            stats: RequestStats::default(),
            scrapes: 0,
            scrapes_up: 0,
        }
    }

    fn add(&mut self, bucket: &Bucket) {
        self.stats.add(&bucket.stats);
        self.scrapes += bucket.scrapes;
        self.scrapes_up += bucket.scrapes_up;
    }
}

/// The result of the last scrape or probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    pub at: i64,
    pub up: bool,
}

#[derive(Debug, Clone)]
struct Bucket {
    start: i64,
    stats: RequestStats,
    scrapes: u32,
    scrapes_up: u32,
    taken: bool,
}

#[derive(Debug, Clone, Default)]
struct Track {
    scrape: Option<Check>,
    probe: Option<Check>,
    buckets: VecDeque<Bucket>,
}

/// Request statistics per instance in buckets, plus the last check results.
#[derive(Debug, Clone)]
pub struct Recorder {
    bucket_seconds: i64,
    keep_buckets: usize,
    tracks: BTreeMap<InstanceKey, Track>,
}

impl Recorder {
    /// Buckets of `bucket_seconds` (at least 1), of which the last `keep_buckets` stay in
    /// memory for windows over recent time; older ones are only in the store.
    pub fn new(bucket_seconds: i64, keep_buckets: usize) -> Recorder {
        Recorder {
            bucket_seconds: bucket_seconds.max(1),
            keep_buckets: keep_buckets.max(1),
            tracks: BTreeMap::new(),
        }
    }

    pub fn bucket_seconds(&self) -> i64 {
        self.bucket_seconds
    }

    /// Seconds of history kept in memory.
    pub fn memory_seconds(&self) -> i64 {
        self.bucket_seconds * self.keep_buckets as i64
    }

    fn bucket_start(&self, at: i64) -> i64 {
        at.div_euclid(self.bucket_seconds) * self.bucket_seconds
    }

    fn bucket(&mut self, key: &InstanceKey, at: i64) -> &mut Bucket {
        let start = self.bucket_start(at);
        let keep = self.keep_buckets;
        let track = self.tracks.entry(key.clone()).or_default();
        let late = track.buckets.back().is_some_and(|last| last.start >= start);
        if !late {
            track.buckets.push_back(Bucket {
                start,
                stats: RequestStats::default(),
                scrapes: 0,
                scrapes_up: 0,
                taken: false,
            });
            while track.buckets.len() > keep {
                track.buckets.pop_front();
            }
        }
        // A scrape that ends before the newest bucket's start (clocks are not perfectly
        // monotonic) counts in the newest bucket rather than being lost.
        track.buckets.back_mut().expect("a bucket was just ensured")
    }

    /// Records a scrape that ended at `at`: its success and the requests since the
    /// previous one.
    pub fn record_scrape(&mut self, key: &InstanceKey, at: i64, up: bool, stats: &RequestStats) {
        let bucket = self.bucket(key, at);
        bucket.scrapes += 1;
        if up {
            bucket.scrapes_up += 1;
            bucket.stats.add(stats);
        }
        if let Some(track) = self.tracks.get_mut(key) {
            track.scrape = Some(Check { at, up });
        }
    }

    /// Records requests observed another way than by scraping (server spans): they
    /// count like a successful scrape's, and the instance's last check is `at`, up.
    pub fn record_requests(&mut self, key: &InstanceKey, at: i64, stats: &RequestStats) {
        self.bucket(key, at).stats.add(stats);
        if let Some(track) = self.tracks.get_mut(key) {
            track.scrape = Some(Check { at, up: true });
        }
    }

    /// Records a health probe's result.
    pub fn record_probe(&mut self, key: &InstanceKey, at: i64, up: bool) {
        self.tracks.entry(key.clone()).or_default().probe = Some(Check { at, up });
    }

    /// Forgets an instance that is no longer scraped (its stored buckets stay).
    pub fn forget(&mut self, key: &InstanceKey) {
        self.tracks.remove(key);
    }

    /// Forgets the instances with no bucket since `before` that `keep` does not name:
    /// what a source stopped reporting without saying so (the Prometheus source has no
    /// "removed" event), so memory stays bounded by the live instances.
    pub fn forget_idle(&mut self, before: i64, keep: impl Fn(&InstanceKey) -> bool) {
        self.tracks.retain(|key, track| {
            keep(key)
                || track
                    .buckets
                    .back()
                    .is_some_and(|last| last.start >= before)
        });
    }

    /// Whether the recorder holds anything of an instance.
    pub fn knows(&self, key: &InstanceKey) -> bool {
        self.tracks.contains_key(key)
    }

    /// The last scrape and probe results of an instance.
    pub fn checks(&self, key: &InstanceKey) -> (Option<Check>, Option<Check>) {
        self.tracks
            .get(key)
            .map_or((None, None), |track| (track.scrape, track.probe))
    }

    /// An instance's statistics over the buckets that overlap the last `seconds` before
    /// `now` (the current, open bucket included).
    pub fn window(&self, key: &InstanceKey, now: i64, seconds: i64) -> RequestStats {
        let from = now - seconds;
        let mut total = RequestStats::default();
        if let Some(track) = self.tracks.get(key) {
            for bucket in track
                .buckets
                .iter()
                .filter(|b| b.start > from - self.bucket_seconds && b.start <= now)
            {
                total.add(&bucket.stats);
            }
        }
        total
    }

    /// The buckets in memory that start at or after `from`, of one instance or, with
    /// `instance` empty, summed over the service's instances (with `service` empty too,
    /// over every instance); by start, the open bucket last.
    pub fn recent(&self, service: &str, instance: &str, from: i64) -> Vec<BucketRow> {
        let mut rows: BTreeMap<i64, BucketRow> = BTreeMap::new();
        // Keys order by service first: one service's tracks are one range.
        let first = InstanceKey {
            service: service.to_owned(),
            instance: String::new(),
        };
        let tracks = self
            .tracks
            .range(first..)
            .take_while(|(key, _)| service.is_empty() || key.service == service)
            .filter(|(key, _)| instance.is_empty() || key.instance == instance);
        for (_, track) in tracks {
            for bucket in track.buckets.iter().filter(|bucket| bucket.start >= from) {
                rows.entry(bucket.start)
                    .or_insert_with(|| BucketRow::empty(service, instance, bucket.start))
                    .add(bucket);
            }
        }
        rows.into_values().collect()
    }

    /// The buckets that ended by `now` and were not taken yet, per instance and summed
    /// per service (`instance` empty), ordered by service, instance and start; each is
    /// handed out once.
    pub fn take_closed(&mut self, now: i64) -> Vec<BucketRow> {
        let mut rows = Vec::new();
        let mut services: BTreeMap<(String, i64), BucketRow> = BTreeMap::new();
        for (key, track) in &mut self.tracks {
            for bucket in track.buckets.iter_mut() {
                if bucket.taken || bucket.start + self.bucket_seconds > now {
                    continue;
                }
                bucket.taken = true;
                services
                    .entry((key.service.clone(), bucket.start))
                    .or_insert_with(|| BucketRow::empty(&key.service, "", bucket.start))
                    .add(bucket);
                let mut row = BucketRow::empty(&key.service, &key.instance, bucket.start);
                row.add(bucket);
                rows.push(row);
            }
        }
        rows.extend(services.into_values());
        rows.sort_by(|a, b| {
            (&a.service, &a.instance, a.start).cmp(&(&b.service, &b.instance, b.start))
        });
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(service: &str, instance: &str) -> InstanceKey {
        InstanceKey {
            service: service.to_owned(),
            instance: instance.to_owned(),
        }
    }

    fn requests(n: f64) -> RequestStats {
        RequestStats {
            requests: n,
            ..Default::default()
        }
    }

    #[test]
    fn closed_buckets_are_taken_once_with_a_service_row() {
        let mut recorder = Recorder::new(60, 10);
        let (a, b) = (key("pay", "http://a"), key("pay", "http://b"));
        recorder.record_scrape(&a, 10, true, &requests(5.0));
        recorder.record_scrape(&a, 40, true, &requests(5.0));
        recorder.record_scrape(&b, 50, false, &requests(99.0));
        recorder.record_scrape(&a, 70, true, &requests(1.0));
        assert!(
            recorder.take_closed(59).is_empty(),
            "the first minute is still open"
        );
        let rows = recorder.take_closed(60);
        let summary: Vec<_> = rows
            .iter()
            .map(|row| {
                (
                    row.instance.as_str(),
                    row.start,
                    row.stats.requests,
                    row.scrapes,
                    row.scrapes_up,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("", 0, 10.0, 3, 2),
                ("http://a", 0, 10.0, 2, 2),
                ("http://b", 0, 0.0, 1, 0)
            ]
        );
        assert!(recorder.take_closed(60).is_empty(), "taken once");
        assert_eq!(
            recorder.take_closed(120).len(),
            2,
            "the second minute of a, and its service row"
        );
    }

    #[test]
    fn windows_sum_recent_buckets_and_memory_is_bounded() {
        let mut recorder = Recorder::new(60, 3);
        let a = key("pay", "http://a");
        for minute in 0..10 {
            recorder.record_scrape(&a, minute * 60 + 1, true, &requests(1.0));
        }
        assert_eq!(recorder.window(&a, 9 * 60 + 30, 60).requests, 2.0);
        assert_eq!(
            recorder.window(&a, 9 * 60 + 30, 3600).requests,
            3.0,
            "three buckets kept"
        );
        assert_eq!(recorder.checks(&a).0, Some(Check { at: 541, up: true }));
    }

    #[test]
    fn recent_buckets_per_instance_and_summed_per_service() {
        let mut recorder = Recorder::new(60, 10);
        recorder.record_scrape(&key("pay", "http://a"), 10, true, &requests(1.0));
        recorder.record_scrape(&key("pay", "http://b"), 20, true, &requests(2.0));
        recorder.record_scrape(&key("pay", "http://b"), 70, true, &requests(4.0));
        recorder.record_scrape(&key("cart", "http://c"), 70, true, &requests(8.0));
        let service: Vec<_> = recorder
            .recent("pay", "", 0)
            .iter()
            .map(|r| (r.start, r.stats.requests))
            .collect();
        assert_eq!(service, vec![(0, 3.0), (60, 4.0)]);
        let one: Vec<_> = recorder
            .recent("pay", "http://a", 0)
            .iter()
            .map(|r| r.stats.requests)
            .collect();
        assert_eq!(one, vec![1.0]);
        assert_eq!(recorder.recent("pay", "", 60).len(), 1);
        let all: Vec<_> = recorder
            .recent("", "", 0)
            .iter()
            .map(|r| r.stats.requests)
            .collect();
        assert_eq!(all, vec![3.0, 12.0]);
    }

    #[test]
    fn idle_instances_are_forgotten_unless_kept() {
        let mut recorder = Recorder::new(60, 10);
        recorder.record_scrape(&key("pay", "old"), 0, true, &requests(1.0));
        recorder.record_scrape(&key("pay", "kept"), 0, true, &requests(1.0));
        recorder.record_scrape(&key("pay", "new"), 600, true, &requests(1.0));
        recorder.forget_idle(300, |key| key.instance == "kept");
        assert_eq!(recorder.checks(&key("pay", "old")), (None, None));
        assert!(recorder.checks(&key("pay", "kept")).0.is_some());
        assert!(recorder.checks(&key("pay", "new")).0.is_some());
    }

    #[test]
    fn a_late_scrape_lands_in_the_newest_bucket() {
        let mut recorder = Recorder::new(60, 3);
        let a = key("pay", "http://a");
        recorder.record_scrape(&a, 130, true, &requests(1.0));
        recorder.record_scrape(&a, 110, true, &requests(1.0));
        let rows = recorder.take_closed(180);
        assert_eq!(rows[1].start, 120);
        assert_eq!(rows[1].stats.requests, 2.0);
    }
}
