//! Terminal colour for the binary's own messages, in the plan crate's palette; on only when the stream is a
//! terminal and colour is not turned off (see `settings`).

use eksaudit_plan::palette::{self, paint};

#[derive(Debug, Clone, Copy)]
pub struct Style {
    enabled: bool,
}

impl Style {
    pub fn new(enabled: bool) -> Style {
        Style { enabled }
    }

    pub fn red(&self, text: &str) -> String {
        paint(self.enabled, palette::RED, text)
    }
    pub fn green(&self, text: &str) -> String {
        paint(self.enabled, palette::GREEN, text)
    }
    pub fn cyan(&self, text: &str) -> String {
        paint(self.enabled, palette::CYAN, text)
    }
    pub fn bold(&self, text: &str) -> String {
        paint(self.enabled, palette::BOLD, text)
    }
    pub fn dim(&self, text: &str) -> String {
        paint(self.enabled, palette::DIM, text)
    }
}
