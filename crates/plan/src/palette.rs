//! The few styles eksaudit's output uses, as anstyle values, shared by the plan's text (plan, drift, outputs) and
//! the binary's messages, so one name means one colour everywhere.

use anstyle::{AnsiColor, Style};

pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();
pub const RED: Style = AnsiColor::Red.on_default();
pub const GREEN: Style = AnsiColor::Green.on_default();
pub const YELLOW: Style = AnsiColor::Yellow.on_default();
pub const MAGENTA: Style = AnsiColor::Magenta.on_default();
pub const CYAN: Style = AnsiColor::Cyan.on_default();
pub const BOLD_RED: Style = AnsiColor::Red.on_default().bold();
pub const BOLD_YELLOW: Style = AnsiColor::Yellow.on_default().bold();

/// `text` in `style` when colour is on, else as it is.
pub fn paint(enabled: bool, style: Style, text: &str) -> String {
    if enabled {
        format!("{}{text}{}", style.render(), style.render_reset())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paints_only_when_enabled_and_always_resets() {
        assert_eq!(paint(false, RED, "x"), "x");
        assert_eq!(paint(true, GREEN, "ok"), "\x1b[32mok\x1b[0m");
        assert_eq!(paint(true, BOLD_RED, "error"), "\x1b[1m\x1b[31merror\x1b[0m");
    }
}
