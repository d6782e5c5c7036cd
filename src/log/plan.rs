//! Which targets each message goes to: every distinct `log` line once (`targets`), and per
//! proxy the targets it names and its tag (`sets`). A message names its set by number:
//! frontends first, then backends, then the global section's own (`global()`).

use crate::config::model::{BackendId, FrontendId, Model};
use crate::config::model_log::LogTarget;

pub type SetId = u32;

pub struct TargetSet {
    /// Indexes in `LogPlan::targets`.
    pub targets: Vec<usize>,
    pub tag: String,
}

pub struct LogPlan {
    pub targets: Vec<LogTarget>,
    pub sets: Vec<TargetSet>,
    frontends: usize,
    pub hostname: Option<String>,
    pub pid: u32,
}

impl LogPlan {
    pub fn new(model: &Model) -> Self {
        let g = &model.global;
        let mut plan = LogPlan {
            targets: Vec::new(),
            sets: Vec::new(),
            frontends: model.frontends.len(),
            hostname: g.log_hostname.clone(),
            pid: std::process::id(),
        };
        let proxies = model
            .frontends
            .iter()
            .map(|f| &f.proxy)
            .chain(model.backends.iter().map(|b| &b.proxy));
        for p in proxies {
            let tag = p.log.tag.clone().unwrap_or_else(|| g.log_tag.clone());
            plan.add_set(&p.log.targets, tag);
        }
        plan.add_set(&g.logs, g.log_tag.clone());
        plan
    }

    fn add_set(&mut self, targets: &[LogTarget], tag: String) {
        let mut ids = Vec::with_capacity(targets.len());
        for t in targets {
            let id = match self.targets.iter().position(|k| k == t) {
                Some(i) => i,
                None => {
                    self.targets.push(t.clone());
                    self.targets.len() - 1
                }
            };
            ids.push(id);
        }
        self.sets.push(TargetSet { targets: ids, tag });
    }

    /// Nothing anywhere is logged.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    pub fn frontend(&self, id: FrontendId) -> SetId {
        id.index() as SetId
    }

    pub fn backend(&self, id: BackendId) -> SetId {
        (self.frontends + id.index()) as SetId
    }

    pub fn global(&self) -> SetId {
        (self.sets.len() - 1) as SetId
    }

    /// How many targets take a message of `set` at `level` (what a lost message counts as).
    pub fn fanout(&self, set: SetId, level: u8) -> u64 {
        let Some(s) = self.sets.get(set as usize) else {
            return 0;
        };
        s.targets
            .iter()
            .filter_map(|&i| self.targets.get(i))
            .filter(|t| t.accepts(level).is_some())
            .count() as u64
    }
}
