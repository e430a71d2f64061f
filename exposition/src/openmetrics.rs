//! The rules of OpenMetrics 1.0 that span lines: how metadata and samples make up
//! families, which names a family claims, how its samples are grouped and ordered, and
//! what values each type allows.
//!
//! The rules are those of the specification as its official parser test suite checks
//! them (the suite was written against the Python client's parser, whose checks this
//! follows), with one deliberate exception, for negative observations: `_sum` and
//! quantile values may be negative, and a histogram with negative buckets may have a
//! `_sum`. OpenMetrics 1.0 forbids both, but the Go client writes them whenever a
//! summary or histogram observes negative values, and Prometheus ingests them; rejecting
//! them would fail the scrape of a healthy Go service. The suite cases that test these
//! rules are listed in `tests/openmetrics_suite.rs`.
//!
//! State is kept per family (the names claimed so far, the label sets seen in the
//! current family), never per sample.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use crate::error::Fail;
use crate::format::{MetricType, Suffix};
use crate::number::parse_value;
use crate::scan::LabelSpan;

/// Which metadata line.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Metadata<'a> {
    Help,
    Type(MetricType),
    Unit(&'a str),
}

/// What the family rules need to know about a sample line.
#[derive(Debug)]
pub(crate) struct SampleFacts<'s, 'a> {
    pub(crate) name: &'s Cow<'a, str>,
    pub(crate) labels: &'s mut [LabelSpan<'a>],
    pub(crate) value: f64,
    /// Offset of the value, for errors about it.
    pub(crate) value_at: usize,
    /// The timestamp in seconds, at full precision.
    pub(crate) timestamp: Option<f64>,
    pub(crate) has_exemplar: bool,
    /// Offset of the exemplar's `#`, for errors about it.
    pub(crate) exemplar_at: usize,
    pub(crate) line: usize,
    pub(crate) line_start: usize,
}

/// Validation state of an OpenMetrics exposition.
#[derive(Debug)]
pub(crate) struct OpenMetrics<'a> {
    family: Option<Family<'a>>,
    /// Every sample name claimed by a family so far: two families may not share one.
    claimed: HashSet<String>,
    /// The label sets (as hashes) seen in the current family; kept here rather than in
    /// [`Family`] so that its memory is reused from one family to the next.
    groups: HashSet<u64, BuildHasherDefault<PassThrough>>,
    /// Seeds the label hashes, so that no input can be made to collide on purpose (which
    /// would make `groups` slow, or misjudge the grouping rules).
    seed: u64,
}

#[derive(Debug)]
struct Family<'a> {
    name: Cow<'a, str>,
    kind: Option<MetricType>,
    help: bool,
    unit: Option<&'a str>,
    claimed: bool,
    has_samples: bool,
    /// Where the family starts, for errors found when it ends.
    line: usize,
    line_start: usize,
    /// The label set of the latest sample.
    group: Option<Group>,
    /// The buckets, count and sum of the latest label set and timestamp, for histograms.
    run: Option<BucketRun>,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    key: u64,
    timestamp: Option<f64>,
}

/// One histogram data point as it is read: the samples of one label set at one
/// timestamp.
#[derive(Debug)]
struct BucketRun {
    key: u64,
    timestamp: Option<f64>,
    line: usize,
    line_start: usize,
    last_bound: Option<f64>,
    last_count: f64,
    count: Option<f64>,
    sum: bool,
    gsum: bool,
    negative_buckets: bool,
    negative_gsum: bool,
    /// A gauge histogram's (for messages).
    gauge: bool,
}

impl<'a> OpenMetrics<'a> {
    pub(crate) fn new() -> OpenMetrics<'a> {
        OpenMetrics {
            family: None,
            claimed: HashSet::new(),
            groups: HashSet::default(),
            seed: RandomState::new().build_hasher().finish(),
        }
    }

    /// Records a `# HELP`, `# TYPE` or `# UNIT` line for `name`; `at` is the line's start.
    pub(crate) fn metadata(
        &mut self,
        name: &'a str,
        metadata: Metadata<'a>,
        line: usize,
        at: usize,
    ) -> Result<(), Fail> {
        let family = match &mut self.family {
            Some(family) if family.name == name => {
                if family.has_samples {
                    return Err(Fail::new(
                        at,
                        format!("metadata for {name} after its samples"),
                    ));
                }
                family
            }
            _ => {
                self.close()?;
                self.groups.clear();
                self.family
                    .insert(Family::new(Cow::Borrowed(name), None, line, at))
            }
        };
        match metadata {
            Metadata::Help if family.help => {
                return Err(Fail::new(at, format!("second HELP for {name}")));
            }
            Metadata::Help => family.help = true,
            Metadata::Type(_) if family.kind.is_some() => {
                return Err(Fail::new(at, format!("second TYPE for {name}")));
            }
            Metadata::Type(kind) => {
                if family.unit.is_some_and(|unit| !unit.is_empty()) && !allows_unit(kind) {
                    return Err(Fail::new(
                        at,
                        format!("a family of type {kind} cannot have a unit"),
                    ));
                }
                family.kind = Some(kind);
                claim(family, &mut self.claimed, at)?;
            }
            Metadata::Unit(_) if family.unit.is_some() => {
                return Err(Fail::new(at, format!("second UNIT for {name}")));
            }
            Metadata::Unit(unit) => {
                if !unit.is_empty() {
                    if let Some(kind) = family.kind.filter(|&kind| !allows_unit(kind)) {
                        return Err(Fail::new(
                            at,
                            format!("a family of type {kind} cannot have a unit"),
                        ));
                    }
                    let suffixed = name
                        .strip_suffix(unit)
                        .is_some_and(|stem| stem.ends_with('_'));
                    if !suffixed {
                        return Err(Fail::new(
                            at,
                            format!("the name of {name} must end with _{unit}, its unit"),
                        ));
                    }
                }
                family.unit = Some(unit);
            }
        }
        Ok(())
    }

    /// Checks a sample against its family and returns the family's type.
    pub(crate) fn sample(&mut self, sample: &mut SampleFacts<'_, 'a>) -> Result<MetricType, Fail> {
        let member = self.family.as_ref().and_then(|family| {
            Suffix::of(
                &family.name,
                family.kind.unwrap_or(MetricType::Unknown),
                sample.name,
            )
        });
        let (family, suffix) = match (member, &mut self.family) {
            (Some(suffix), Some(family)) => (family, suffix),
            (_, family) => {
                if let Some(family) = family {
                    misfit(family, sample)?;
                }
                // A sample outside the current family starts a family of its own.
                self.close()?;
                self.groups.clear();
                let family = self.family.insert(Family::new(
                    sample.name.clone(),
                    Some(MetricType::Unknown),
                    sample.line,
                    sample.line_start,
                ));
                (family, Suffix::None)
            }
        };
        if !family.claimed {
            claim(family, &mut self.claimed, sample.line_start)?;
        }
        family.has_samples = true;
        let kind = family.kind.unwrap_or(MetricType::Unknown);
        let bound = check_value(&family.name, kind, suffix, sample)?;
        if sample.has_exemplar
            && !matches!(
                (kind, suffix),
                (MetricType::Counter, Suffix::Total)
                    | (
                        MetricType::Histogram | MetricType::GaugeHistogram,
                        Suffix::Bucket
                    )
            )
        {
            return Err(Fail::new(
                sample.exemplar_at,
                "only counter _total samples and histogram buckets may have exemplars",
            ));
        }
        let key = group_key(&family.name, kind, suffix, sample.labels, self.seed);
        check_group(family, &mut self.groups, key, kind, sample)?;
        if kind.has_buckets() {
            track_buckets(family, kind, key, suffix, bound, sample)?;
        }
        Ok(kind)
    }

    /// Ends the current family (at a new family, or at `# EOF`), running the checks that
    /// need all of its samples.
    pub(crate) fn close(&mut self) -> Result<(), Fail> {
        let Some(mut family) = self.family.take() else {
            return Ok(());
        };
        if !family.claimed {
            let (line, line_start) = (family.line, family.line_start);
            claim(&mut family, &mut self.claimed, line_start)
                .map_err(|fail| Fail::on_line(line, line_start, fail.message))?;
        }
        match family.run.take() {
            Some(run) => run.finish(&family.name),
            None => Ok(()),
        }
    }
}

impl<'a> Family<'a> {
    fn new(name: Cow<'a, str>, kind: Option<MetricType>, line: usize, line_start: usize) -> Self {
        Family {
            name,
            kind,
            help: false,
            unit: None,
            claimed: false,
            has_samples: false,
            line,
            line_start,
            group: None,
            run: None,
        }
    }
}

/// Rejects, with a clear message, a sample that would start a family of its own but
/// carries a name the family before it claims (`a` after `# TYPE a counter`): the
/// general clash error would not say what went wrong.
fn misfit(family: &Family<'_>, sample: &SampleFacts<'_, '_>) -> Result<(), Fail> {
    let kind = family.kind.unwrap_or(MetricType::Unknown);
    if *sample.name != family.name || kind.suffixes().contains(&Suffix::None) {
        return Ok(());
    }
    let expected: Vec<String> = kind
        .suffixes()
        .iter()
        .map(|suffix| format!("{}{}", family.name, suffix.as_str()))
        .collect();
    Err(Fail::new(
        sample.line_start,
        format!(
            "{} is not a sample of {kind} {}, whose samples are named {}",
            sample.name,
            family.name,
            expected.join(", ")
        ),
    ))
}

fn allows_unit(kind: MetricType) -> bool {
    !matches!(kind, MetricType::Info | MetricType::StateSet)
}

/// Claims the sample names of `family` (its name with each suffix of its type, and its
/// bare name), failing when an earlier family has one of them.
fn claim(family: &mut Family<'_>, claimed: &mut HashSet<String>, at: usize) -> Result<(), Fail> {
    family.claimed = true;
    let kind = family.kind.unwrap_or(MetricType::Unknown);
    let bare = std::iter::once(Suffix::None).filter(|_| !kind.suffixes().contains(&Suffix::None));
    for suffix in kind.suffixes().iter().copied().chain(bare) {
        let name = format!("{}{}", family.name, suffix.as_str());
        if claimed.contains(&name) {
            return Err(Fail::new(
                at,
                format!("{name} is already used by an earlier metric family (a family's lines must be together, and no two families may share a sample name)"),
            ));
        }
        claimed.insert(name);
    }
    Ok(())
}

/// Checks a sample's value and type-specific labels. Returns a bucket's upper bound.
fn check_value(
    family: &str,
    kind: MetricType,
    suffix: Suffix,
    sample: &SampleFacts<'_, '_>,
) -> Result<Option<f64>, Fail> {
    let value = sample.value;
    let value_fail = |message: String| Fail::new(sample.value_at, message);
    let mut bound = None;
    match (kind, suffix) {
        (MetricType::StateSet, _) => {
            if !sample.labels.iter().any(|label| label.name == family) {
                return Err(Fail::new(
                    sample.line_start,
                    format!("a stateset sample needs a label named {family}, the state"),
                ));
            }
            if value != 0.0 && value != 1.0 {
                return Err(value_fail(format!(
                    "a stateset value is 0 or 1, not {value}"
                )));
            }
        }
        (MetricType::Info, _) if value != 1.0 => {
            return Err(value_fail(format!("an info value is 1, not {value}")));
        }
        (MetricType::Summary, Suffix::None) => {
            let quantile = number_label(sample, "quantile")?;
            if !(0.0..=1.0).contains(&quantile) {
                return Err(Fail::new(
                    sample.line_start,
                    format!("quantile {quantile} is not between 0 and 1"),
                ));
            }
        }
        (_, Suffix::Bucket) => {
            let le = number_label(sample, "le")?;
            if le.is_nan() {
                return Err(Fail::new(sample.line_start, "le is NaN"));
            }
            bound = Some(le);
        }
        _ => {}
    }
    let counter_like = matches!(
        suffix,
        Suffix::Total | Suffix::Count | Suffix::Bucket | Suffix::GCount
    );
    if (counter_like || matches!(suffix, Suffix::Sum | Suffix::GSum)) && value.is_nan() {
        return Err(value_fail(format!("{family}{} is NaN", suffix.as_str())));
    }
    if counter_like && value < 0.0 {
        return Err(value_fail(format!(
            "{family}{} is negative",
            suffix.as_str()
        )));
    }
    let integral = matches!(suffix, Suffix::Bucket | Suffix::Count | Suffix::GCount);
    if integral && (value.is_infinite() || value.fract() != 0.0) {
        return Err(value_fail(format!(
            "{family}{} must be a whole number, not {value}",
            suffix.as_str()
        )));
    }
    Ok(bound)
}

/// The value of label `name` as a number, which `le` and `quantile` must be; positive
/// infinity must be spelled `+Inf`.
fn number_label(sample: &SampleFacts<'_, '_>, name: &str) -> Result<f64, Fail> {
    let Some(label) = sample.labels.iter().find(|label| label.name == name) else {
        return Err(Fail::new(
            sample.line_start,
            format!("{} needs a label {name}", sample.name),
        ));
    };
    let text = label.unescaped();
    let number = parse_value(text.as_bytes())
        .map_err(|_| Fail::new(label.at, format!("{name}={text:?} is not a number")))?;
    if number == f64::INFINITY && text != "+Inf" {
        return Err(Fail::new(
            label.at,
            format!("{name}={text:?}: positive infinity is written +Inf"),
        ));
    }
    Ok(number)
}

/// Identifies a sample's label set within its family, leaving out the label that varies
/// within one data point (`le`, `quantile`, the stateset's state); an info family is one
/// group. Label order does not matter, so the hashes of the labels are added. A label's
/// hash is kept with it, and labels that a line repeats from the line before are not
/// hashed again.
///
/// Groups are compared by this 64-bit hash alone: two different label sets of one
/// family collide with probability about 2^-64 per pair (the hash is seeded at random),
/// which would misjudge only the grouping and timestamp-order rules.
fn group_key(
    family: &str,
    kind: MetricType,
    suffix: Suffix,
    labels: &mut [LabelSpan<'_>],
    seed: u64,
) -> u64 {
    let varying = match (kind, suffix) {
        (MetricType::Info, _) => return 0,
        (MetricType::Summary, Suffix::None) => "quantile",
        (MetricType::StateSet, _) => family,
        (_, Suffix::Bucket) => "le",
        _ => "",
    };
    let mut key = 0u64;
    for label in labels.iter_mut().filter(|label| label.name != varying) {
        if label.hash == 0 {
            let mut hasher = FoldHasher(seed);
            hasher.write(label.name.as_bytes());
            hasher.write_u64(label.name.len() as u64);
            hasher.write(label.unescaped().as_bytes());
            // 0 means "not computed".
            label.hash = hasher.finish().max(1);
        }
        key = key.wrapping_add(label.hash);
    }
    key
}

/// The samples of one label set must be together, and within it timestamps must all be
/// present or all absent, and must not go backwards (except in an info family, whose
/// samples are all one group).
fn check_group(
    family: &mut Family<'_>,
    groups: &mut HashSet<u64, BuildHasherDefault<PassThrough>>,
    key: u64,
    kind: MetricType,
    sample: &SampleFacts<'_, '_>,
) -> Result<(), Fail> {
    match family.group {
        Some(group) if group.key == key => {
            if group.timestamp.is_some() != sample.timestamp.is_some() {
                return Err(Fail::new(
                    sample.line_start,
                    "some samples of this label set have a timestamp and some do not",
                ));
            }
            if let (Some(previous), Some(now)) = (group.timestamp, sample.timestamp) {
                if now < previous && kind != MetricType::Info {
                    return Err(Fail::new(
                        sample.line_start,
                        "timestamp goes backwards within a label set",
                    ));
                }
            }
        }
        Some(_) if groups.contains(&key) => {
            return Err(Fail::new(
                sample.line_start,
                format!(
                    "this label set of {} appeared earlier, separated by another (the samples of one label set must be together)",
                    family.name
                ),
            ));
        }
        _ => {}
    }
    family.group = Some(Group {
        key,
        timestamp: sample.timestamp,
    });
    groups.insert(key);
    Ok(())
}

/// Follows a histogram's data points: buckets in increasing order with non-decreasing
/// counts, ending with `+Inf`, and `_count` equal to the `+Inf` bucket.
fn track_buckets(
    family: &mut Family<'_>,
    kind: MetricType,
    key: u64,
    suffix: Suffix,
    bound: Option<f64>,
    sample: &SampleFacts<'_, '_>,
) -> Result<(), Fail> {
    let run = match &mut family.run {
        Some(run) if run.key == key && run.timestamp == sample.timestamp => run,
        run => {
            if let Some(done) = run.take() {
                done.finish(&family.name)?;
            }
            run.insert(BucketRun {
                key,
                timestamp: sample.timestamp,
                line: sample.line,
                line_start: sample.line_start,
                last_bound: None,
                last_count: 0.0,
                count: None,
                sum: false,
                gsum: false,
                negative_buckets: false,
                negative_gsum: false,
                gauge: kind == MetricType::GaugeHistogram,
            })
        }
    };
    match (suffix, bound) {
        (Suffix::Bucket, Some(bound)) => {
            if run.last_bound.is_some_and(|last| bound <= last) {
                return Err(Fail::new(
                    sample.line_start,
                    format!("bucket le={bound} is not above the previous one (buckets go in increasing order)"),
                ));
            }
            if sample.value < run.last_count {
                return Err(Fail::new(
                    sample.value_at,
                    "bucket count is below the previous bucket's (buckets are cumulative)",
                ));
            }
            run.negative_buckets |= bound < 0.0;
            run.last_bound = Some(bound);
            run.last_count = sample.value;
        }
        (Suffix::Count | Suffix::GCount, _) => run.count = Some(sample.value),
        (Suffix::Sum, _) => run.sum = true,
        (Suffix::GSum, _) => {
            run.gsum = true;
            run.negative_gsum |= sample.value < 0.0;
        }
        _ => {}
    }
    Ok(())
}

impl BucketRun {
    fn finish(self, family: &str) -> Result<(), Fail> {
        let fail = |message: String| Err(Fail::on_line(self.line, self.line_start, message));
        if self.last_bound != Some(f64::INFINITY) {
            return fail(format!(
                "histogram {family} has no le=\"+Inf\" bucket in the data point starting here"
            ));
        }
        if let Some(count) = self.count.filter(|&count| count != self.last_count) {
            return fail(format!(
                "histogram {family}: count {count} differs from the +Inf bucket's {} in the data point starting here",
                self.last_count
            ));
        }
        let (count, sum) = if self.gsum || (self.count.is_some() && !self.sum && self.gauge) {
            ("_gcount", "_gsum")
        } else {
            ("_count", "_sum")
        };
        if self.count.is_none() && (self.sum || self.gsum) {
            return fail(format!(
                "histogram {family} has a {sum} without a {count} in the data point starting here"
            ));
        }
        if self.count.is_some() && !(self.sum || self.gsum) {
            return fail(format!(
                "histogram {family} has a {count} without a {sum} in the data point starting here"
            ));
        }
        if self.negative_gsum && !self.negative_buckets {
            return fail(format!(
                "gauge histogram {family} has a negative _gsum but no negative bucket in the data point starting here"
            ));
        }
        Ok(())
    }
}

/// A `HashSet<u64>` hasher for keys that are hashes already.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 << 8) | u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// A small, fast hash for labels (the multiply-and-rotate scheme of FxHash, from a
/// random seed, with a final mix so that sums of hashes stay well spread).
struct FoldHasher(u64);

impl FoldHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        // The finaliser of MurmurHash3.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }
}
