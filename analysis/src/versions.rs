//! STUB: replaced by the version matrix (helper B).
use crate::model::Model;
use crate::Observation;

pub struct VersionMatrix {}

pub fn matrix(_model: &Model) -> VersionMatrix {
    VersionMatrix {}
}

pub fn observations(_matrix: &VersionMatrix) -> Vec<Observation> {
    Vec::new()
}
