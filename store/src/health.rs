//! Request statistics over time ([`BucketRow`]s of `seam-health`), on both backends:
//! written in batches as buckets close, merged where a bucket is written twice (several
//! replicas, a retried batch), downsampled from minutes to hours, pruned past retention.

use std::collections::BTreeMap;

use seam_health::{BucketRow, RequestStats};

/// A bucket as stored: its size in seconds beside the statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBucket {
    pub seconds: i64,
    pub row: BucketRow,
}

/// The key of PostgreSQL's advisory lock that serialises the writers of `health_buckets`
/// (`write_health`, `downsample_health`) across replicas ("seam hlt" in ASCII).
pub(crate) const PG_LOCK: i64 = 0x7365_616d_2068_6c74;

/// The columns of `health_buckets`, in the order [`Columns`] reads them.
pub(crate) const BUCKET_COLUMNS: &str = "service, instance, seconds, start, requests, errors, \
     client_errors, duration_sum_seconds, duration_count, buckets, scrapes, scrapes_up";

/// One `health_buckets` row as the database returns it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Columns {
    service: String,
    instance: String,
    seconds: i64,
    start: i64,
    requests: f64,
    errors: f64,
    client_errors: f64,
    duration_sum_seconds: f64,
    duration_count: f64,
    buckets: String,
    scrapes: i64,
    scrapes_up: i64,
}

impl Columns {
    pub(crate) fn into_stored(self) -> Result<StoredBucket, crate::StoreError> {
        let buckets =
            decode_buckets(&self.buckets).map_err(|source| crate::StoreError::Decode {
                what: format!(
                    "health bucket of {:?} {:?} at {}",
                    self.service, self.instance, self.start
                ),
                source: crate::stored::DecodeError::Json(source),
            })?;
        Ok(StoredBucket {
            seconds: self.seconds,
            row: BucketRow {
                service: self.service,
                instance: self.instance,
                start: self.start,
                stats: RequestStats {
                    requests: self.requests,
                    errors: self.errors,
                    client_errors: self.client_errors,
                    duration_sum_seconds: self.duration_sum_seconds,
                    duration_count: self.duration_count,
                    buckets,
                },
                scrapes: u32::try_from(self.scrapes).unwrap_or(u32::MAX),
                scrapes_up: u32::try_from(self.scrapes_up).unwrap_or(u32::MAX),
            },
        })
    }
}

/// Histogram bounds as JSON strings, so that `+Inf` survives.
pub(crate) fn encode_buckets(buckets: &[(f64, f64)]) -> String {
    let pairs: Vec<(String, f64)> = buckets
        .iter()
        .map(|(le, count)| {
            let le = if le.is_infinite() {
                "+Inf".to_owned()
            } else {
                le.to_string()
            };
            (le, *count)
        })
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn decode_buckets(text: &str) -> Result<Vec<(f64, f64)>, serde_json::Error> {
    let pairs: Vec<(String, f64)> = serde_json::from_str(text)?;
    Ok(pairs
        .into_iter()
        .filter_map(|(le, count)| {
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, count))
        })
        .collect())
}

/// Adds `more` into `into` (same service, instance and bucket).
pub(crate) fn merge(into: &mut BucketRow, more: &BucketRow) {
    into.stats.add(&more.stats);
    into.scrapes = into.scrapes.saturating_add(more.scrapes);
    into.scrapes_up = into.scrapes_up.saturating_add(more.scrapes_up);
}

/// Sums minute rows into hour rows, by service, instance and hour.
pub(crate) fn to_hours(rows: Vec<StoredBucket>, hour: i64) -> Vec<BucketRow> {
    let mut hours: BTreeMap<(String, String, i64), BucketRow> = BTreeMap::new();
    for StoredBucket { row, .. } in rows {
        let start = row.start.div_euclid(hour) * hour;
        let key = (row.service.clone(), row.instance.clone(), start);
        match hours.get_mut(&key) {
            Some(total) => merge(total, &row),
            None => {
                hours.insert(key, BucketRow { start, ..row });
            }
        }
    }
    hours.into_values().collect()
}

macro_rules! impl_health {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Adds `row` to the stored bucket of the same key, or creates it.
            async fn add_bucket(
                tx: &mut sqlx::Transaction<'_, $db>,
                seconds: i64,
                row: &seam_health::BucketRow,
            ) -> Result<(), $crate::StoreError> {
                let existing: Option<$crate::health::Columns> = sqlx::query_as(&format!(
                    "SELECT {} FROM health_buckets \
                     WHERE service = $1 AND instance = $2 AND seconds = $3 AND start = $4",
                    $crate::health::BUCKET_COLUMNS
                ))
                .bind(&row.service)
                .bind(&row.instance)
                .bind(seconds)
                .bind(row.start)
                .fetch_optional(&mut **tx)
                .await?;
                let mut total = row.clone();
                if let Some(existing) = existing {
                    total = existing.into_stored()?.row;
                    $crate::health::merge(&mut total, row);
                }
                sqlx::query(
                    "INSERT INTO health_buckets (service, instance, seconds, start, requests, errors, \
                     client_errors, duration_sum_seconds, duration_count, buckets, scrapes, scrapes_up) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (service, instance, seconds, start) DO UPDATE SET \
                     requests = excluded.requests, errors = excluded.errors, \
                     client_errors = excluded.client_errors, \
                     duration_sum_seconds = excluded.duration_sum_seconds, \
                     duration_count = excluded.duration_count, buckets = excluded.buckets, \
                     scrapes = excluded.scrapes, scrapes_up = excluded.scrapes_up",
                )
                .bind(&total.service)
                .bind(&total.instance)
                .bind(seconds)
                .bind(total.start)
                .bind(total.stats.requests)
                .bind(total.stats.errors)
                .bind(total.stats.client_errors)
                .bind(total.stats.duration_sum_seconds)
                .bind(total.stats.duration_count)
                .bind($crate::health::encode_buckets(&total.stats.buckets))
                .bind(i64::from(total.scrapes))
                .bind(i64::from(total.scrapes_up))
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            async fn health_write(
                &self,
                seconds: i64,
                rows: &[seam_health::BucketRow],
            ) -> Result<(), $crate::StoreError> {
                let mut tx = self.begin_exclusive($crate::health::PG_LOCK).await?;
                for row in rows {
                    Self::add_bucket(&mut tx, seconds, row).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn health_read(
                &self,
                service: &str,
                instance: &str,
                from: i64,
                to: i64,
            ) -> Result<Vec<$crate::health::StoredBucket>, $crate::StoreError> {
                let rows: Vec<$crate::health::Columns> = sqlx::query_as(&format!(
                    "SELECT {} FROM health_buckets \
                     WHERE service = $1 AND instance = $2 AND start + seconds > $3 AND start < $4 \
                     ORDER BY start, seconds",
                    $crate::health::BUCKET_COLUMNS
                ))
                .bind(service)
                .bind(instance)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::health::Columns::into_stored).collect()
            }

            async fn health_downsample(
                &self,
                before: i64,
            ) -> Result<usize, $crate::StoreError> {
                let mut tx = self.begin_exclusive($crate::health::PG_LOCK).await?;
                let minutes: Vec<$crate::health::Columns> = sqlx::query_as(&format!(
                    "SELECT {} FROM health_buckets WHERE seconds < 3600 AND start + seconds <= $1",
                    $crate::health::BUCKET_COLUMNS
                ))
                .bind(before)
                .fetch_all(&mut *tx)
                .await?;
                let count = minutes.len();
                let minutes = minutes
                    .into_iter()
                    .map($crate::health::Columns::into_stored)
                    .collect::<Result<Vec<_>, _>>()?;
                for hour in $crate::health::to_hours(minutes, 3600) {
                    Self::add_bucket(&mut tx, 3600, &hour).await?;
                }
                sqlx::query("DELETE FROM health_buckets WHERE seconds < 3600 AND start + seconds <= $1")
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(count)
            }

            async fn health_prune(&self, before: i64) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query("DELETE FROM health_buckets WHERE start + seconds <= $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use impl_health;
