//! STUB
use crate::model::Model;
use crate::Observation;

pub fn shared_datastores(_model: &Model) -> Vec<Observation> {
    Vec::new()
}
pub fn context_crossings(_model: &Model) -> Vec<Observation> {
    Vec::new()
}
pub fn drift(_model: &Model) -> Vec<Observation> {
    Vec::new()
}
