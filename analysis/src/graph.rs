//! STUB: replaced by the graph index (helper A).
use crate::model::Model;

pub struct Index {
    len: usize,
}

impl Index {
    pub fn new(model: &Model) -> Index {
        Index {
            len: model.nodes.len(),
        }
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
