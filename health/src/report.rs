//! The health of everything at one moment: instances, services, systems, domains and the
//! whole system, rolled up with [`Thresholds::roll_up`].

use std::collections::BTreeMap;

use serde::Serialize;

use crate::recorder::{Check, InstanceKey, Recorder};
use crate::state::{State, Thresholds};
use crate::stats::RequestStats;

/// Where a service sits, and its instances: the catalog's part of the health report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTopology {
    pub name: String,
    pub system: Option<String>,
    pub domain: Option<String>,
    /// Instance identities as the recorder keys them.
    pub instances: Vec<String>,
}

/// The figures of one node over the report's window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub state: State,
    /// Requests per second.
    pub request_rate: f64,
    /// Server errors per request, 0..1; `None` without requests.
    pub error_ratio: Option<f64>,
    /// 95th percentile of request durations; `None` without a duration histogram.
    pub latency_p95_seconds: Option<f64>,
    #[serde(skip)]
    pub stats: RequestStats,
}

impl Figures {
    fn new(state: State, stats: RequestStats, window_seconds: i64) -> Figures {
        Figures {
            state,
            request_rate: stats.rate(window_seconds as f64),
            error_ratio: stats.error_ratio(),
            latency_p95_seconds: stats.quantile(0.95),
            stats,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InstanceHealth {
    pub instance: String,
    /// The last scrape and probe; `None` before the first.
    #[serde(skip)]
    pub scrape: Option<Check>,
    #[serde(skip)]
    pub probe: Option<Check>,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceHealth {
    pub name: String,
    pub system: Option<String>,
    pub domain: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
    pub instances: Vec<InstanceHealth>,
}

/// A system or a domain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupHealth {
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// The health of everything, over the window that ends at `at`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub at: i64,
    pub window_seconds: i64,
    pub overall: Figures,
    pub domains: Vec<GroupHealth>,
    pub systems: Vec<GroupHealth>,
    pub services: Vec<ServiceHealth>,
}

impl HealthReport {
    /// Builds the report from the recorder's memory over the last `window_seconds`.
    pub fn build(
        recorder: &Recorder,
        thresholds: &Thresholds,
        topology: &[ServiceTopology],
        now: i64,
        window_seconds: i64,
    ) -> HealthReport {
        let window = window_seconds.max(1);
        let mut services = Vec::with_capacity(topology.len());
        for service in topology {
            let mut instances = Vec::with_capacity(service.instances.len());
            let mut pooled = RequestStats::default();
            let mut children = Vec::with_capacity(service.instances.len());
            for instance in &service.instances {
                let key = InstanceKey {
                    service: service.name.clone(),
                    instance: instance.clone(),
                };
                let stats = recorder.window(&key, now, window);
                let (scrape, probe) = recorder.checks(&key);
                let state = thresholds.instance_state(
                    scrape.map(|check| check.up),
                    probe.map(|check| check.up),
                    &stats,
                );
                pooled.add(&stats);
                children.push((state, stats.requests));
                instances.push(InstanceHealth {
                    instance: instance.clone(),
                    scrape,
                    probe,
                    figures: Figures::new(state, stats, window),
                });
            }
            let state = thresholds.roll_up(&children);
            services.push(ServiceHealth {
                name: service.name.clone(),
                system: service.system.clone(),
                domain: service.domain.clone(),
                figures: Figures::new(state, pooled, window),
                instances,
            });
        }

        // Systems from all their services. Domains from their systems' parts in the
        // domain (a system whose services declare different domains counts in each with
        // the services declaring it) and their services without a system; the whole from
        // the domains and, for services without a domain, the same parts.
        let mut systems: BTreeMap<&str, Vec<&Figures>> = BTreeMap::new();
        let mut parts: BTreeMap<Option<&str>, BTreeMap<Option<&str>, Vec<&Figures>>> =
            BTreeMap::new();
        for service in &services {
            if let Some(system) = &service.system {
                systems.entry(system).or_default().push(&service.figures);
            }
            parts
                .entry(service.domain.as_deref())
                .or_default()
                .entry(service.system.as_deref())
                .or_default()
                .push(&service.figures);
        }
        let system_health: Vec<GroupHealth> = systems
            .into_iter()
            .map(|(name, members)| GroupHealth {
                name: name.to_owned(),
                figures: roll(thresholds, members.into_iter(), window),
            })
            .collect();
        let mut domain_health = Vec::new();
        let mut top: Vec<Figures> = Vec::new();
        for (domain, by_system) in parts {
            let mut members: Vec<Figures> = Vec::new();
            for (system, services) in by_system {
                match system {
                    Some(_) => members.push(roll(thresholds, services.into_iter(), window)),
                    None => members.extend(services.into_iter().cloned()),
                }
            }
            match domain {
                Some(name) => {
                    let figures = roll(thresholds, members.iter(), window);
                    top.push(figures.clone());
                    domain_health.push(GroupHealth {
                        name: name.to_owned(),
                        figures,
                    });
                }
                None => top.extend(members),
            }
        }
        let overall = roll(thresholds, top.iter(), window);
        HealthReport {
            at: now,
            window_seconds: window,
            overall,
            domains: domain_health,
            systems: system_health,
            services,
        }
    }

    /// The services worst first (failing, degraded, unknown, healthy), then busiest,
    /// then by name: the order the overview and the API list them in.
    pub fn services_worst_first(&self) -> Vec<&ServiceHealth> {
        let rank = |state: State| match state {
            State::Failing => 0,
            State::Degraded => 1,
            State::Unknown => 2,
            State::Healthy => 3,
        };
        let mut services: Vec<&ServiceHealth> = self.services.iter().collect();
        services.sort_by(|a, b| {
            rank(a.figures.state)
                .cmp(&rank(b.figures.state))
                .then(b.figures.request_rate.total_cmp(&a.figures.request_rate))
                .then(a.name.cmp(&b.name))
        });
        services
    }

    /// How many services are in each state.
    pub fn service_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts: BTreeMap<&'static str, usize> =
            State::ALL.iter().map(|state| (state.as_str(), 0)).collect();
        for service in &self.services {
            *counts.entry(service.figures.state.as_str()).or_default() += 1;
        }
        counts
    }
}

fn roll<'a>(
    thresholds: &Thresholds,
    members: impl Iterator<Item = &'a Figures>,
    window: i64,
) -> Figures {
    let mut pooled = RequestStats::default();
    let mut children = Vec::new();
    for member in members {
        pooled.add(&member.stats);
        children.push((member.state, member.stats.requests));
    }
    Figures::new(thresholds.roll_up(&children), pooled, window)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(
        name: &str,
        system: Option<&str>,
        domain: Option<&str>,
        instances: &[&str],
    ) -> ServiceTopology {
        ServiceTopology {
            name: name.to_owned(),
            system: system.map(str::to_owned),
            domain: domain.map(str::to_owned),
            instances: instances.iter().map(|i| (*i).to_owned()).collect(),
        }
    }

    fn scrape(
        recorder: &mut Recorder,
        service: &str,
        instance: &str,
        up: bool,
        requests: f64,
        errors: f64,
    ) {
        let key = InstanceKey {
            service: service.to_owned(),
            instance: instance.to_owned(),
        };
        let stats = RequestStats {
            requests,
            errors,
            ..Default::default()
        };
        recorder.record_scrape(&key, 100, up, &stats);
    }

    #[test]
    fn a_system_spanning_domains_counts_in_each_with_its_services_there() {
        let mut recorder = Recorder::new(60, 10);
        scrape(&mut recorder, "shop", "a", true, 100.0, 0.0);
        scrape(&mut recorder, "pay", "a", true, 100.0, 50.0);
        let topology = vec![
            topology("shop", Some("webshop"), Some("commerce"), &["a"]),
            topology("pay", Some("webshop"), Some("finance"), &["a"]),
        ];
        let report = HealthReport::build(&recorder, &Thresholds::default(), &topology, 110, 60);
        let domain = |name: &str| {
            report
                .domains
                .iter()
                .find(|d| d.name == name)
                .unwrap()
                .figures
                .state
        };
        assert_eq!(
            domain("finance"),
            State::Failing,
            "pay's failure shows in its own domain"
        );
        assert_eq!(domain("commerce"), State::Healthy);
        assert_eq!(
            report.systems[0].figures.state,
            State::Failing,
            "the system holds both"
        );
    }

    #[test]
    fn rolls_up_through_systems_and_domains() {
        let mut recorder = Recorder::new(60, 10);
        scrape(&mut recorder, "cart", "a", true, 600.0, 0.0);
        scrape(&mut recorder, "cart", "b", false, 0.0, 0.0);
        scrape(&mut recorder, "pay", "a", true, 60.0, 30.0);
        scrape(&mut recorder, "canary", "a", true, 1.0, 1.0);
        let topology = vec![
            topology("cart", Some("shop"), Some("sales"), &["a", "b"]),
            topology("pay", Some("billing"), Some("money"), &["a"]),
            topology("canary", Some("shop"), Some("sales"), &["a"]),
            topology("new", None, None, &["x"]),
        ];
        let report = HealthReport::build(&recorder, &Thresholds::default(), &topology, 110, 60);
        let state = |name: &str| {
            report
                .services
                .iter()
                .find(|s| s.name == name)
                .unwrap()
                .figures
                .state
        };
        assert_eq!(state("cart"), State::Degraded, "one of two instances down");
        assert_eq!(state("pay"), State::Failing);
        assert_eq!(state("canary"), State::Failing);
        assert_eq!(state("new"), State::Unknown);
        let shop = &report
            .systems
            .iter()
            .find(|s| s.name == "shop")
            .unwrap()
            .figures;
        assert_eq!(
            shop.state,
            State::Degraded,
            "the failing canary carries too little traffic"
        );
        assert!((shop.request_rate - 601.0 / 60.0).abs() < 1e-9);
        assert_eq!(report.domains.len(), 2);
        assert_eq!(
            report.overall.state,
            State::Degraded,
            "pay carries under 10% of all requests"
        );
        assert_eq!(report.service_counts()["failing"], 2);
        let order: Vec<&str> = report
            .services_worst_first()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            order,
            ["pay", "canary", "cart", "new"],
            "failing by traffic, then degraded, unknown"
        );
    }
}
