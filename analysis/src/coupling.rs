//! STUB: replaced by coupling (helper A).
use crate::graph::Index;
use crate::model::Model;
use crate::{Observation, Thresholds};

pub struct Hubs {
    pub observations: Vec<Observation>,
    pub exact: bool,
    pub samples: usize,
}

pub fn chatty(_model: &Model, _t: &Thresholds) -> Vec<Observation> {
    Vec::new()
}

pub fn hubs(_model: &Model, _index: &Index, _t: &Thresholds) -> Hubs {
    Hubs {
        observations: Vec::new(),
        exact: true,
        samples: 0,
    }
}

pub fn chains(_model: &Model, _index: &Index, _t: &Thresholds) -> Vec<Observation> {
    Vec::new()
}
