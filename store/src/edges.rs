//! Statistics of the observed call graph's edges over time ([`EdgeRow`]s of
//! `seam-traces`), on both backends, the way [`health`](crate::health) keeps request
//! statistics: written in batches as buckets close, added up where a bucket and edge is
//! written twice (several replicas, a retried batch), downsampled from minutes to hours,
//! pruned past retention.
//!
//! A batch is written in chunks of rows: one statement reads the stored rows of a chunk's
//! keys, the chunk is added to them in memory (histograms are JSON, merged by bound) and
//! one statement upserts the totals. Writers that read before they write are serialised
//! per backend: SQLite's `BEGIN IMMEDIATE`, PostgreSQL's transaction-level advisory lock
//! [`PG_LOCK`], so that two replicas writing the same edge at once both count.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use seam_health::RequestStats;
use seam_traces::{Distribution, EdgeKey, EdgeRow, EdgeStats, Mode, NodeKind};

use crate::health::decode_buckets;
use crate::stored::DecodeError;
use crate::StoreError;

/// An edge's bucket as stored: its size in seconds beside the statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEdge {
    pub seconds: i64,
    pub row: EdgeRow,
}

/// The key of `edge_buckets` after `seconds`, in the order the batch statements bind it.
pub(crate) const KEY_COLUMNS: &str = "start, caller, caller_kind, callee, callee_kind, \
     caller_version, callee_version, environment, protocol, mode, operation";

/// The columns of `edge_buckets`, in the order [`Columns`] reads and
/// [`upsert_sql`] writes them.
pub(crate) const EDGE_COLUMNS: &str = "seconds, start, caller, caller_kind, callee, \
     callee_kind, caller_version, callee_version, environment, protocol, mode, operation, \
     calls, errors, client_errors, duration_sum_seconds, duration_count, latency_buckets, \
     fan_out_count, fan_out_sum, fan_out_buckets";

/// Values bound per row: the key (with `start`) ...
const KEY_PARAMS: usize = 11;
/// ... and the whole row (with `seconds`).
const ROW_PARAMS: usize = 21;
/// Bound parameters per statement: SQLite before 3.32 allows at most 999 (later ones
/// 32766, PostgreSQL 65535), and this stays under the smallest.
const MAX_PARAMS: usize = 999;
/// Rows per statement of a batch: 47 (987 parameters with `seconds`).
pub(crate) const CHUNK: usize = (MAX_PARAMS - 1) / ROW_PARAMS;
// `seconds` and a chunk of rows fit in one statement.
const _: () = assert!(CHUNK * ROW_PARAMS < MAX_PARAMS && KEY_PARAMS < ROW_PARAMS);

/// The key of PostgreSQL's advisory lock that serialises the writers of `edge_buckets`
/// (`write_edges`, `downsample_edges`) across replicas ("seam edg" in ASCII).
pub(crate) const PG_LOCK: i64 = 0x7365_616d_2065_6467;

/// What the database stores of one bucket: stats by bucket start and edge. Sorted, so
/// that chunks are written (and rows locked) in one order by every writer.
pub(crate) type Batch = BTreeMap<(i64, EdgeKey), EdgeStats>;

/// Sums `rows` by bucket start and edge (a batch may hold an edge twice).
pub(crate) fn batch(rows: impl IntoIterator<Item = EdgeRow>) -> Batch {
    let mut out = Batch::new();
    for EdgeRow { start, key, stats } in rows {
        match out.entry((start, key)) {
            Entry::Occupied(total) => total.into_mut().add(&stats),
            Entry::Vacant(new) => {
                new.insert(stats);
            }
        }
    }
    out
}

/// Sums minute rows into hour rows, by edge and hour.
pub(crate) fn to_hours(rows: Vec<StoredEdge>, hour: i64) -> Batch {
    batch(rows.into_iter().map(|StoredEdge { row, .. }| EdgeRow {
        start: row.start.div_euclid(hour) * hour,
        ..row
    }))
}

/// `SELECT` of the stored rows of `n` keys of one bucket size: `$1` is `seconds`, then
/// [`KEY_PARAMS`] per key.
pub(crate) fn select_keys_sql(n: usize) -> String {
    format!(
        "SELECT {EDGE_COLUMNS} FROM edge_buckets WHERE seconds = $1 AND ({KEY_COLUMNS}) IN (VALUES {})",
        placeholders(n, KEY_PARAMS, 2)
    )
}

/// `INSERT` of `n` rows that replaces the statistics of rows already stored (the caller
/// has added them in): [`ROW_PARAMS`] per row, in the order of [`EDGE_COLUMNS`].
pub(crate) fn upsert_sql(n: usize) -> String {
    format!(
        "INSERT INTO edge_buckets ({EDGE_COLUMNS}) VALUES {} \
         ON CONFLICT (seconds, {KEY_COLUMNS}) DO UPDATE SET \
         calls = excluded.calls, errors = excluded.errors, \
         client_errors = excluded.client_errors, \
         duration_sum_seconds = excluded.duration_sum_seconds, \
         duration_count = excluded.duration_count, latency_buckets = excluded.latency_buckets, \
         fan_out_count = excluded.fan_out_count, fan_out_sum = excluded.fan_out_sum, \
         fan_out_buckets = excluded.fan_out_buckets",
        placeholders(n, ROW_PARAMS, 1)
    )
}

/// `($first, ...), (...), ...`: `n` tuples of `width` numbered placeholders.
fn placeholders(n: usize, width: usize, first: usize) -> String {
    let mut out = String::with_capacity(n * width * 5);
    for row in 0..n {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for col in 0..width {
            if col > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + row * width + col).to_string());
        }
        out.push(')');
    }
    out
}

/// One `edge_buckets` row as the database returns it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Columns {
    seconds: i64,
    start: i64,
    caller: String,
    caller_kind: String,
    callee: String,
    callee_kind: String,
    caller_version: String,
    callee_version: String,
    environment: String,
    protocol: String,
    mode: String,
    operation: String,
    calls: f64,
    errors: f64,
    client_errors: f64,
    duration_sum_seconds: f64,
    duration_count: f64,
    latency_buckets: String,
    fan_out_count: f64,
    fan_out_sum: f64,
    fan_out_buckets: String,
}

/// Shares the text of names that many rows repeat (callers, versions, environments).
#[derive(Default)]
pub(crate) struct Interner(HashSet<Arc<str>>);

impl Interner {
    fn get(&mut self, text: String) -> Arc<str> {
        if let Some(shared) = self.0.get(text.as_str()) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(text);
        self.0.insert(shared.clone());
        shared
    }
}

impl Columns {
    pub(crate) fn into_stored(self, names: &mut Interner) -> Result<StoredEdge, StoreError> {
        let what = || {
            format!(
                "edge bucket {:?} -> {:?} at {}",
                self.caller, self.callee, self.start
            )
        };
        let decode = |source| StoreError::Decode {
            what: what(),
            source,
        };
        let kind = |column: &'static str, text: &str| {
            NodeKind::parse(text).ok_or_else(|| {
                decode(DecodeError::Unknown {
                    column,
                    found: text.to_owned(),
                })
            })
        };
        let caller_kind = kind("caller_kind", &self.caller_kind)?;
        let callee_kind = kind("callee_kind", &self.callee_kind)?;
        let mode = Mode::parse(&self.mode).ok_or_else(|| {
            decode(DecodeError::Unknown {
                column: "mode",
                found: self.mode.clone(),
            })
        })?;
        let latency = decode_buckets(&self.latency_buckets)
            .map_err(|source| decode(DecodeError::Json(source)))?;
        let fan_out = decode_buckets(&self.fan_out_buckets)
            .map_err(|source| decode(DecodeError::Json(source)))?;
        Ok(StoredEdge {
            seconds: self.seconds,
            row: EdgeRow {
                start: self.start,
                key: EdgeKey {
                    caller: names.get(self.caller),
                    caller_kind,
                    callee: names.get(self.callee),
                    callee_kind,
                    caller_version: names.get(self.caller_version),
                    callee_version: names.get(self.callee_version),
                    environment: names.get(self.environment),
                    protocol: names.get(self.protocol),
                    mode,
                    operation: names.get(self.operation),
                },
                stats: EdgeStats {
                    calls: RequestStats {
                        requests: self.calls,
                        errors: self.errors,
                        client_errors: self.client_errors,
                        duration_sum_seconds: self.duration_sum_seconds,
                        duration_count: self.duration_count,
                        buckets: latency,
                    },
                    fan_out: Distribution {
                        count: self.fan_out_count,
                        sum: self.fan_out_sum,
                        buckets: fan_out,
                    },
                },
            },
        })
    }
}

/// Decodes rows and orders them by start, then edge, then bucket size.
pub(crate) fn into_stored(rows: Vec<Columns>) -> Result<Vec<StoredEdge>, StoreError> {
    let mut names = Interner::default();
    let mut out = rows
        .into_iter()
        .map(|row| row.into_stored(&mut names))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| {
        (a.row.start, &a.row.key, a.seconds).cmp(&(b.row.start, &b.row.key, b.seconds))
    });
    Ok(out)
}

/// Binds a key in the order of [`KEY_COLUMNS`].
macro_rules! bind_key {
    ($query:expr, $start:expr, $key:expr) => {
        $query
            .bind($start)
            .bind(&*$key.caller)
            .bind($key.caller_kind.as_str())
            .bind(&*$key.callee)
            .bind($key.callee_kind.as_str())
            .bind(&*$key.caller_version)
            .bind(&*$key.callee_version)
            .bind(&*$key.environment)
            .bind(&*$key.protocol)
            .bind($key.mode.as_str())
            .bind(&*$key.operation)
    };
}

pub(crate) use bind_key;

/// The edge statements of a backend; writes begin with the backend's `begin_exclusive`,
/// which excludes other writers of `edge_buckets`.
macro_rules! impl_edges {
    ($store:ty, $db:ty) => {
        impl $store {

            /// Adds `batch` to the stored buckets of the same size and keys, or creates
            /// them.
            async fn add_edges(
                tx: &mut sqlx::Transaction<'_, $db>,
                seconds: i64,
                batch: $crate::edges::Batch,
            ) -> Result<(), $crate::StoreError> {
                let rows: Vec<_> = batch.into_iter().collect();
                let mut names = $crate::edges::Interner::default();
                for chunk in rows.chunks($crate::edges::CHUNK) {
                    let sql = $crate::edges::select_keys_sql(chunk.len());
                    let mut select =
                        sqlx::query_as::<_, $crate::edges::Columns>(&sql).bind(seconds);
                    for ((start, key), _) in chunk {
                        select = $crate::edges::bind_key!(select, *start, key);
                    }
                    let stored = select.fetch_all(&mut **tx).await?;
                    let mut totals: Vec<seam_traces::EdgeStats> =
                        chunk.iter().map(|(_, stats)| stats.clone()).collect();
                    for row in stored {
                        let row = row.into_stored(&mut names)?.row;
                        let at = chunk
                            .binary_search_by(|((start, key), _)| {
                                (*start, key).cmp(&(row.start, &row.key))
                            })
                            .ok();
                        if let Some(at) = at {
                            // What was stored first, then what is added.
                            let mut total = row.stats;
                            total.add(&totals[at]);
                            totals[at] = total;
                        }
                    }

                    let sql = $crate::edges::upsert_sql(chunk.len());
                    let mut upsert = sqlx::query(&sql);
                    for (((start, key), _), stats) in chunk.iter().zip(&totals) {
                        upsert = $crate::edges::bind_key!(upsert.bind(seconds), *start, key)
                            .bind(stats.calls.requests)
                            .bind(stats.calls.errors)
                            .bind(stats.calls.client_errors)
                            .bind(stats.calls.duration_sum_seconds)
                            .bind(stats.calls.duration_count)
                            .bind($crate::health::encode_buckets(&stats.calls.buckets))
                            .bind(stats.fan_out.count)
                            .bind(stats.fan_out.sum)
                            .bind($crate::health::encode_buckets(&stats.fan_out.buckets));
                    }
                    upsert.execute(&mut **tx).await?;
                }
                Ok(())
            }

            async fn edges_write(
                &self,
                seconds: i64,
                rows: &[seam_traces::EdgeRow],
            ) -> Result<(), $crate::StoreError> {
                if rows.is_empty() {
                    return Ok(());
                }
                let batch = $crate::edges::batch(rows.iter().cloned());
                let mut tx = self.begin_exclusive($crate::edges::PG_LOCK).await?;
                Self::add_edges(&mut tx, seconds, batch).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn edges_read(
                &self,
                from: i64,
                to: i64,
                service: Option<&str>,
            ) -> Result<Vec<$crate::edges::StoredEdge>, $crate::StoreError> {
                let columns = $crate::edges::EDGE_COLUMNS;
                let rows: Vec<$crate::edges::Columns> = match service {
                    Some(service) => {
                        sqlx::query_as(&format!(
                            "SELECT {columns} FROM edge_buckets \
                             WHERE start >= $1 AND start < $2 AND (caller = $3 OR callee = $3)"
                        ))
                        .bind(from)
                        .bind(to)
                        .bind(service)
                        .fetch_all(&self.pool)
                        .await?
                    }
                    None => {
                        sqlx::query_as(&format!(
                            "SELECT {columns} FROM edge_buckets WHERE start >= $1 AND start < $2"
                        ))
                        .bind(from)
                        .bind(to)
                        .fetch_all(&self.pool)
                        .await?
                    }
                };
                $crate::edges::into_stored(rows)
            }

            async fn edges_downsample(&self, before: i64) -> Result<usize, $crate::StoreError> {
                // `start < $1` lets the primary key find them; `seconds` is positive.
                const MINUTES: &str =
                    "FROM edge_buckets WHERE seconds < 3600 AND start < $1 AND start + seconds <= $1";
                let mut tx = self.begin_exclusive($crate::edges::PG_LOCK).await?;
                let minutes: Vec<$crate::edges::Columns> = sqlx::query_as(&format!(
                    "SELECT {} {MINUTES}",
                    $crate::edges::EDGE_COLUMNS
                ))
                .bind(before)
                .fetch_all(&mut *tx)
                .await?;
                let count = minutes.len();
                if count == 0 {
                    return Ok(0);
                }
                let hours = $crate::edges::to_hours($crate::edges::into_stored(minutes)?, 3600);
                Self::add_edges(&mut tx, 3600, hours).await?;
                sqlx::query(&format!("DELETE {MINUTES}"))
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(count)
            }

            async fn edges_prune(&self, before: i64) -> Result<u64, $crate::StoreError> {
                let done = sqlx::query(
                    "DELETE FROM edge_buckets WHERE start < $1 AND start + seconds <= $1",
                )
                .bind(before)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use impl_edges;

#[cfg(test)]
mod tests {
    use super::*;

    fn key(caller: &str, callee: &str) -> EdgeKey {
        EdgeKey {
            caller: caller.into(),
            caller_kind: NodeKind::Service,
            callee: callee.into(),
            callee_kind: NodeKind::Database,
            caller_version: "".into(),
            callee_version: "".into(),
            environment: "".into(),
            protocol: "postgresql".into(),
            mode: Mode::Sync,
            operation: "".into(),
        }
    }

    fn row(start: i64, key: EdgeKey, calls: f64) -> EdgeRow {
        let mut stats = EdgeStats::default();
        stats.calls.requests = calls;
        stats.calls.add_bucket(f64::INFINITY, calls);
        EdgeRow { start, key, stats }
    }

    #[test]
    fn statements_stay_under_the_parameter_limit() {
        assert_eq!(KEY_COLUMNS.split(", ").count(), KEY_PARAMS);
        assert_eq!(EDGE_COLUMNS.split(", ").count(), ROW_PARAMS);
        let upsert = upsert_sql(CHUNK);
        assert!(upsert.contains(&format!("${}", CHUNK * ROW_PARAMS)));
        assert!(!upsert.contains(&format!("${}", CHUNK * ROW_PARAMS + 1)));
        assert!(select_keys_sql(2)
            .contains("IN (VALUES ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12), ($13,"));
    }

    #[test]
    fn batches_and_hours_add_up_by_edge() {
        let a = key("shop", "db");
        let b = key("shop", "cache");
        let batch = batch([
            row(60, a.clone(), 1.0),
            row(60, b.clone(), 2.0),
            row(60, a.clone(), 3.0),
        ]);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[&(60, a.clone())].calls.requests, 4.0);
        assert_eq!(
            batch[&(60, a.clone())].calls.buckets,
            vec![(f64::INFINITY, 4.0)]
        );
        let minutes = (0..3)
            .map(|m| StoredEdge {
                seconds: 60,
                row: row(7200 + m * 60, a.clone(), 1.0),
            })
            .collect();
        let hours = to_hours(minutes, 3600);
        assert_eq!(hours.len(), 1);
        assert_eq!(hours[&(7200, a)].calls.requests, 3.0);
    }
}
