//! `eksaudit validate`: checks the spec offline and reports every problem at once.

use serde_json::json;

use crate::cli::ValidateArgs;
use crate::exit::ExitStatus;
use crate::settings::{GlobalSettings, Verbosity};
use crate::style::Style;

/// Version of the `--json` document; bumped on any incompatible change.
const FORMAT_VERSION: &str = "1";

pub fn run(args: &ValidateArgs, settings: &GlobalSettings) -> ExitStatus {
    let result = eksaudit_spec::load(&settings.config);
    if args.json {
        let doc = match &result {
            Ok(spec) => json!({
                "format_version": FORMAT_VERSION,
                "file": settings.config.display().to_string(),
                "valid": true,
                "pipeline": spec.pipeline.name,
                "regions": spec.regions.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
                "problems": [],
                "warnings": super::filter::pattern_warnings(spec).iter().map(|w| json!({
                    "path": w.address, "message": w.message, "hint": w.hint,
                })).collect::<Vec<_>>(),
            }),
            Err(eksaudit_spec::Error::Invalid { problems, .. }) => json!({
                "format_version": FORMAT_VERSION,
                "file": settings.config.display().to_string(),
                "valid": false,
                "problems": problems.0.iter().map(|p| json!({
                    "path": p.path,
                    // A filter pattern's syntax error carries the pattern with a caret on the lines after the first.
                    "message": p.message.lines().next().unwrap_or_default(),
                    "excerpt": p.message.split_once('\n').map(|(_, excerpt)| excerpt),
                    "hint": p.hint,
                    "line": p.location.map(|l| l.line),
                    "column": p.location.map(|l| l.column),
                })).collect::<Vec<_>>(),
            }),
            Err(err @ eksaudit_spec::Error::Read { .. }) => json!({
                "format_version": FORMAT_VERSION,
                "file": settings.config.display().to_string(),
                "valid": false,
                "problems": [{ "path": "", "message": err.to_string(), "hint": "create one from config.example.toml, or pass --config FILE", "line": null, "column": null }],
            }),
        };
        println!("{}", serde_json::to_string_pretty(&doc).expect("a JSON value serialises"));
        return if result.is_ok() { ExitStatus::Success } else { ExitStatus::Error };
    }
    match result {
        Ok(spec) => {
            if settings.verbosity > Verbosity::Quiet {
                let style = Style::new(settings.color_stdout);
                let regions: Vec<&str> = spec.regions.iter().map(|r| r.name.as_str()).collect();
                let selectors: usize = spec.regions.iter().map(|r| r.clusters.len()).sum();
                println!(
                    "{} {} is valid: pipeline {:?}, {} region{} ({}), {} cluster selector{}.",
                    style.green("✓"),
                    settings.config.display(),
                    spec.pipeline.name,
                    regions.len(),
                    if regions.len() == 1 { "" } else { "s" },
                    regions.join(", "),
                    selectors,
                    if selectors == 1 { "" } else { "s" },
                );
            }
            // Valid, but worth knowing before plan: a pattern that never forwards a class of events a consumer needs.
            let style = Style::new(settings.color_stderr);
            let warnings =
                if settings.verbosity > Verbosity::Quiet { super::filter::pattern_warnings(&spec) } else { Vec::new() };
            for w in warnings {
                eprintln!("{}: {}: {}", style.bold("warning"), style.bold(&w.address), w.message);
                eprintln!("    {} {}", style.cyan("hint:"), w.hint);
            }
            ExitStatus::Success
        }
        Err(err) => {
            super::print_spec_error(&err, settings);
            ExitStatus::Error
        }
    }
}
