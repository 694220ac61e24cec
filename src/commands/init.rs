//! `eksaudit init`: writes a first spec for the account the credentials belong to. It reads (never writes) the
//! account, the regions the credentials can use and each region's EKS clusters with their audit-logging state,
//! asks on a terminal what to cover and who reads (or takes flags with `--yes`), and writes the spec from
//! `config.example.toml`, so every key keeps the example's comment. Nothing is written unless the spec
//! validates; an existing file is never overwritten without `--force`.

use std::io::IsTerminal;
use std::path::Path;

use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, MultiSelect, Select};
use eksaudit_aws::{Aws, Inventory, RegionInventory};
use eksaudit_spec::{partition, Preset, KNOWN_REGIONS};
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

use crate::cli::{InitArgs, PlanArgs};
use crate::exit::ExitStatus;
use crate::settings::GlobalSettings;

/// The template: every key of the written spec carries this file's comment for it.
const EXAMPLE: &str = include_str!("../../config.example.toml");

/// Why init stopped, already worded for the person at the terminal.
pub(super) struct Stop(pub(super) String);

impl<E: std::fmt::Display> From<E> for Stop {
    fn from(e: E) -> Stop {
        Stop(e.to_string())
    }
}

/// What the person chose (or the flags and defaults said).
struct Choices {
    preset: Preset,
    /// Per region, the cluster entries to write and whether to turn audit logging on.
    regions: Vec<(String, Vec<String>, bool)>,
    /// `consumer.*` keys and their values.
    consumer: Vec<(&'static str, Item)>,
    alerts: Option<Table>,
}

pub async fn run(args: &InitArgs, settings: &GlobalSettings) -> ExitStatus {
    match init(args, settings).await {
        Ok(status) => status,
        Err(Stop(message)) => {
            super::print_error(settings, &message);
            ExitStatus::Error
        }
    }
}

async fn init(args: &InitArgs, settings: &GlobalSettings) -> Result<ExitStatus, Stop> {
    let output = args.output.clone().unwrap_or_else(|| settings.config.clone());
    if output.exists() && !args.force {
        return Err(Stop(format!(
            "{} already exists; pass --force to overwrite it, or --output FILE to write another",
            output.display()
        )));
    }
    let interactive = !args.yes && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive && !args.yes {
        return Err(Stop(
            "init asks its questions on a terminal, and this is none; pass --yes to take the flags and defaults \
             (e.g. --yes --preset rad --regions all)"
                .into(),
        ));
    }
    let preset = args.preset.as_deref().map(parse_preset).transpose()?;
    let sets = args.set.iter().map(|s| parse_set(s)).collect::<Result<Vec<_>, _>>()?;
    let (candidates, explicit) = candidate_regions(args.regions.as_deref())?;

    if settings.verbosity > crate::settings::Verbosity::Quiet {
        eprintln!("Reading the account and the EKS clusters of {} regions…", candidates.len());
    }
    let aws = Aws::connect(&settings.connection, &candidates[0]).await;
    let inventory = eksaudit_aws::inventory(&aws, &candidates).await.map_err(|e| {
        if e.kind() != eksaudit_aws::ErrorKind::AccessDenied {
            return Stop(e.to_string());
        }
        let regions = args.regions.as_deref().map(|r| format!(" --regions {r}")).unwrap_or_default();
        Stop(format!("{e}; grant the reads `eksaudit policy --for init{regions}` prints, then run init again"))
    })?;
    if let Some(region) = explicit.iter().find(|r| inventory.not_enabled.contains(r)) {
        return Err(Stop(format!(
            "{region} is not enabled for account {}; enable it (AWS console, Account, AWS Regions) or leave it out of --regions",
            inventory.identity.account
        )));
    }
    let choices = if interactive {
        ask(args, preset, &inventory, &explicit)?
    } else {
        defaults(args, preset, &inventory, &explicit)?
    };

    let mut doc: DocumentMut =
        EXAMPLE.parse().map_err(|e| Stop(format!("the built-in example does not parse: {e}")))?;
    compose(&mut doc, &inventory.identity.account, &choices);
    for (path, item) in &sets {
        set(&mut doc, path, item.clone())?;
    }
    let text = doc.to_string();
    if let Err(problems) = eksaudit_spec::parse_spec(&text) {
        super::print_spec_error(&eksaudit_spec::Error::Invalid { path: output.clone(), problems }, settings);
        eprintln!(
            "  hint: nothing was written; give the values with --set KEY=VALUE (e.g. --set consumer.external_id=...), \
             or run `eksaudit init` on a terminal to be asked"
        );
        return Ok(ExitStatus::Error);
    }
    std::fs::write(&output, &text).map_err(|e| Stop(format!("cannot write {}: {e}", output.display())))?;
    summarise(&output, &choices, settings);

    let run_plan = args.plan
        || (interactive
            && Confirm::with_theme(&ColorfulTheme::default())
                .with_prompt("Run `eksaudit plan` now?")
                .default(true)
                .interact()?);
    if !run_plan {
        return Ok(ExitStatus::Success);
    }
    let mut plan_settings = settings.clone();
    plan_settings.config = output;
    Ok(super::plan::run(&PlanArgs { json: false, detailed_exitcode: false, out: None }, &plan_settings).await)
}

fn parse_preset(name: &str) -> Result<Preset, Stop> {
    Preset::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Preset::ALL.iter().map(|p| p.as_str()).collect();
        Stop(format!("--preset {name:?} is not a preset; use one of {}", known.join(", ")))
    })
}

/// `KEY=VALUE`: a dotted key path and a TOML value (or, when the text is no TOML value, that text).
fn parse_set(arg: &str) -> Result<(Vec<String>, Item), Stop> {
    let Some((key, text)) = arg.split_once('=') else {
        return Err(Stop(format!("--set {arg:?} is not KEY=VALUE; e.g. --set consumer.external_id=abc")));
    };
    let path: Vec<String> = key.trim().split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        return Err(Stop(format!("--set {arg:?}: {key:?} is not a key path; e.g. consumer.external_id")));
    }
    let last = &path[path.len() - 1];
    // A key the example shows as text stays text (`account_id=123456789012` is an account id, not a number).
    let parsed = match text.trim().parse::<toml_edit::Value>() {
        Ok(v) if !example_holds_text(last) => v,
        _ => text.into(),
    };
    Ok((path, value(parsed)))
}

/// Whether config.example.toml gives `key` a string value (set or commented out).
fn example_holds_text(key: &str) -> bool {
    EXAMPLE.lines().any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = \"")))
}

/// The regions to read: every commercial region (`all`, or no flag), or the named ones (which are then all that
/// may be chosen).
pub(super) fn candidate_regions(flag: Option<&str>) -> Result<(Vec<String>, Vec<String>), Stop> {
    match flag {
        None | Some("all") => {
            let all = KNOWN_REGIONS.iter().filter(|r| partition(r) == "aws").map(|r| r.to_string()).collect();
            Ok((all, Vec::new()))
        }
        Some(list) => {
            let named: Vec<String> = list.split(',').map(|r| r.trim().to_string()).filter(|r| !r.is_empty()).collect();
            if named.is_empty() {
                return Err(Stop("--regions is empty; use `all` or a list such as eu-central-1,us-east-1".into()));
            }
            for r in &named {
                if let Err(invalid) = eksaudit_spec::rules::region_name(r) {
                    let hint = invalid.hint.map(|h| format!("; {h}")).unwrap_or_default();
                    return Err(Stop(format!("--regions: {}{hint}", invalid.message)));
                }
            }
            Ok((named.clone(), named))
        }
    }
}

/// The regions to offer: those named, or else those with a cluster.
fn offered<'a>(inventory: &'a Inventory, explicit: &[String]) -> Result<Vec<&'a RegionInventory>, Stop> {
    let offered: Vec<&RegionInventory> = inventory
        .regions
        .iter()
        .filter(|r| if explicit.is_empty() { !r.clusters.is_empty() } else { explicit.contains(&r.region) })
        .collect();
    if offered.is_empty() {
        let checked = inventory.regions.len();
        return Err(Stop(format!(
            "no EKS cluster in any of the {checked} regions account {} can use; create one first, or name the regions \
             with --regions R1,R2 and the clusters to come with --clusters GLOB",
            inventory.identity.account
        )));
    }
    Ok(offered)
}

/// The cluster entries for one region: the glob given, else every cluster found, by name.
fn entries(region: &RegionInventory, glob: Option<&str>) -> Result<Vec<String>, Stop> {
    match glob {
        Some(g) => Ok(vec![g.to_string()]),
        None if region.clusters.is_empty() => Err(Stop(format!(
            "{} has no EKS cluster yet; pass --clusters GLOB to select the ones to come",
            region.region
        ))),
        None => Ok(region.clusters.iter().map(|c| c.name.clone()).collect()),
    }
}

/// Whether a selected cluster has audit logging off (or unknown) in this region.
fn any_off(region: &RegionInventory, entries: &[String]) -> bool {
    region.clusters.iter().any(|c| {
        c.audit_logging != Some(true)
            && entries.iter().any(|e| e == &c.name || eksaudit_spec::ClusterSelector::parse(e).matches(&c.name))
    })
}

/// `--yes`: the flags, and otherwise every region with a cluster, every cluster by name, audit logging on.
fn defaults(
    args: &InitArgs,
    preset: Option<Preset>,
    inventory: &Inventory,
    explicit: &[String],
) -> Result<Choices, Stop> {
    let mut regions = Vec::new();
    for r in offered(inventory, explicit)? {
        let entries = entries(r, args.clusters.as_deref())?;
        let enable = any_off(r, &entries);
        regions.push((r.region.clone(), entries, enable));
    }
    Ok(Choices { preset: preset.unwrap_or(Preset::Generic), regions, consumer: Vec::new(), alerts: None })
}

/// The questions, on a terminal.
fn ask(args: &InitArgs, preset: Option<Preset>, inventory: &Inventory, explicit: &[String]) -> Result<Choices, Stop> {
    let theme = ColorfulTheme::default();
    eprintln!("Account {} ({})", inventory.identity.account, inventory.identity.arn);
    let offered = offered(inventory, explicit)?;
    let labels: Vec<String> = offered
        .iter()
        .map(|r| {
            let n = r.clusters.len();
            format!("{} ({n} cluster{})", r.region, if n == 1 { "" } else { "s" })
        })
        .collect();
    let picked = MultiSelect::with_theme(&theme)
        .with_prompt("Regions to cover (space toggles, enter accepts)")
        .items(&labels)
        .defaults(&vec![true; labels.len()])
        .interact()?;
    if picked.is_empty() {
        return Err(Stop("no region chosen; nothing was written".into()));
    }
    let mut regions = Vec::new();
    for r in picked.into_iter().map(|i| offered[i]) {
        let entries = match (&args.clusters, r.clusters.is_empty()) {
            (Some(glob), _) => vec![glob.clone()],
            (None, true) => vec![Input::<String>::with_theme(&theme)
                .with_prompt(format!("{} has no cluster yet; a glob for the ones to come", r.region))
                .default("*".into())
                .interact_text()?],
            (None, false) => {
                let labels: Vec<String> = r
                    .clusters
                    .iter()
                    .map(|c| {
                        let state = match c.audit_logging {
                            Some(true) => "audit logging on",
                            Some(false) => "audit logging off",
                            None => "audit logging unknown",
                        };
                        format!("{} ({state})", c.name)
                    })
                    .collect();
                let mut items = labels.clone();
                items.push("every cluster, also those created later (\"*\")".into());
                let mut defaults = vec![true; labels.len()];
                defaults.push(false);
                let chosen = MultiSelect::with_theme(&theme)
                    .with_prompt(format!("Clusters in {}", r.region))
                    .items(&items)
                    .defaults(&defaults)
                    .interact()?;
                if chosen.contains(&labels.len()) {
                    vec!["*".to_string()]
                } else if chosen.is_empty() {
                    return Err(Stop(format!("no cluster chosen in {}; nothing was written", r.region)));
                } else {
                    chosen.into_iter().map(|i| r.clusters[i].name.clone()).collect()
                }
            }
        };
        let enable = any_off(r, &entries)
            && Confirm::with_theme(&theme)
                .with_prompt(format!("Audit logging is off on some of them in {}: turn it on?", r.region))
                .default(true)
                .interact()?;
        regions.push((r.region.clone(), entries, enable));
    }

    let preset = match preset {
        Some(p) => p,
        None => {
            let labels: Vec<String> = Preset::ALL.iter().map(|p| format!("{} ({})", p.as_str(), p.vendor())).collect();
            let i =
                Select::with_theme(&theme).with_prompt("Who reads the logs?").items(&labels).default(0).interact()?;
            Preset::ALL[i]
        }
    };
    let mut consumer: Vec<(&'static str, Item)> = Vec::new();
    let text = |prompt: &str, default: Option<String>, optional: bool| -> Result<String, Stop> {
        let mut input = Input::<String>::with_theme(&theme).with_prompt(prompt).allow_empty(optional);
        if let Some(d) = default {
            input = input.default(d);
        }
        Ok(input.interact_text()?)
    };
    match preset {
        Preset::Generic => {
            consumer.push(("account_id", value(text("The consumer's 12-digit AWS account id", None, false)?)));
            let generated = format!("eksaudit-{}", random_suffix()?);
            consumer.push(("external_id", value(text("External id the reader role demands", Some(generated), false)?)));
        }
        Preset::Forticnapp => {
            let tenant =
                text("Your FortiCNAPP tenant (acme for acme.lacework.net), empty to paste an external id", None, true)?;
            if tenant.is_empty() {
                consumer.push(("external_id", value(text("The external id FortiCNAPP gave you", None, false)?)));
            } else {
                consumer.push(("generate_external_id", value(true)));
                consumer.push(("tenant", value(tenant)));
            }
        }
        Preset::Rad => {
            let id = text("External id (optional; RAD's registration may give one)", None, true)?;
            if !id.is_empty() {
                consumer.push(("external_id", value(id)));
            }
        }
        Preset::Sentinel => {
            consumer.push((
                "workspace_id",
                value(text("Log Analytics workspace id (the connector's External ID)", None, false)?),
            ));
        }
    }
    let alerts = if Confirm::with_theme(&theme)
        .with_prompt("Add real-time alerts on manual changes ([alerts])?")
        .default(false)
        .interact()?
    {
        let mut t = Table::new();
        let namespaces = text(
            "Namespaces whose RBAC, secret and exec changes alert (comma-separated)",
            Some("kube-system".into()),
            false,
        )?;
        t.insert("namespaces", value(Array::from_iter(namespaces.split(',').map(|s| s.trim().to_string()))));
        let email = text("E-mail to subscribe to the alerts (optional)", None, true)?;
        if !email.is_empty() {
            t.insert("email", value(Array::from_iter([email])));
        }
        Some(t)
    } else {
        None
    };
    Ok(Choices { preset, regions, consumer, alerts })
}

/// A random external-id suffix: 20 characters of a-z and 0-9 from the operating system's random source.
fn random_suffix() -> Result<String, Stop> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 20];
    getrandom::getrandom(&mut bytes).map_err(|e| Stop(format!("no random source to generate an external id: {e}")))?;
    // 256 is not a multiple of 36: the first 4 letters are drawn slightly more often, harmless for an external id.
    Ok(bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect())
}

/// The comment the example gives a key of a section it shows commented out (`# [alerts]`): the `# ` lines just
/// above `# key = `, as a key's decor.
fn commented_key_comment(section: &str, key: &str) -> Option<String> {
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let start = lines.iter().position(|l| l.trim() == format!("# [{section}]"))?;
    let at = lines[start..].iter().position(|l| l.starts_with(&format!("# {key} = ")))? + start;
    let is_key = |l: &str| l.trim_start_matches("# ").split_once(" = ").is_some_and(|(k, _)| !k.contains(' '));
    let first = (start + 1..at).rev().take_while(|&i| lines[i].starts_with("# ") && !is_key(lines[i])).last()?;
    Some(lines[first..at].iter().map(|l| format!("{l}\n")).collect())
}

/// The example turned into this account's spec.
fn compose(doc: &mut DocumentMut, account: &str, choices: &Choices) {
    // The account guard: the spec only ever runs against the account it was written for.
    doc["pipeline"]["account_id"] = value(account);
    if let Some(pipeline) = doc["pipeline"].as_table_mut() {
        pipeline.remove("tags");
    }
    if let Some(consumer) = doc["consumer"].as_table_mut() {
        // The example's consumer values are placeholders; a vendor preset brings its own account.
        consumer.remove("account_id");
        consumer.remove("external_id");
        consumer["preset"] = value(choices.preset.as_str());
        for (key, item) in &choices.consumer {
            consumer.insert(key, item.clone());
        }
    }
    let template = doc["region"].as_array_of_tables().and_then(|a| a.get(0)).cloned().unwrap_or_default();
    let mut regions = ArrayOfTables::new();
    for (i, (name, clusters, enable)) in choices.regions.iter().enumerate() {
        let mut t = template.clone();
        if i > 0 || choices.alerts.is_some() {
            // Only the first region keeps the example's lead-in; with [alerts] written, its commented copy goes.
            let prefix = t.decor().prefix().and_then(|p| p.as_str()).unwrap_or_default().to_string();
            let lead = prefix.find("# One [[region]]").map_or("", |at| &prefix[at..]);
            t.decor_mut().set_prefix(if i == 0 { format!("\n{lead}") } else { "\n".to_string() });
        }
        t["name"] = value(name.as_str());
        t["clusters"] = value(Array::from_iter(clusters.iter().map(String::as_str)));
        t["enable_audit_logging"] = value(*enable);
        regions.push(t);
    }
    doc["region"] = Item::ArrayOfTables(regions);
    if let Some(alerts) = &choices.alerts {
        let mut t = alerts.clone();
        let keys: Vec<String> = t.iter().map(|(k, _)| k.to_string()).collect();
        for key in keys {
            if let (Some(comment), Some(mut k)) = (commented_key_comment("alerts", &key), t.key_mut(&key)) {
                k.leaf_decor_mut().set_prefix(comment);
            }
        }
        t.decor_mut().set_prefix(
            "\n# Real-time alerts on manual changes: a small Lambda function per region publishes one SNS message per\n# matching audit event (see config.example.toml for every key).\n",
        );
        doc.insert("alerts", Item::Table(t));
    }
}

/// `--set path=value` into the document; `region.KEY` sets KEY in every region.
fn set(doc: &mut DocumentMut, path: &[String], item: Item) -> Result<(), Stop> {
    let shown = path.join(".");
    if path[0] == "region" {
        let (Some(regions), [_, key]) = (doc["region"].as_array_of_tables_mut(), path) else {
            return Err(Stop(format!("--set {shown}: use region.KEY, which sets KEY in every region")));
        };
        for t in regions.iter_mut() {
            t[key.as_str()] = item.clone();
        }
        return Ok(());
    }
    let mut table = doc.as_table_mut();
    for part in &path[..path.len() - 1] {
        let entry = table.entry(part).or_insert_with(|| Item::Table(Table::new()));
        table = entry.as_table_mut().ok_or_else(|| Stop(format!("--set {shown}: {part} is not a table")))?;
    }
    table[path[path.len() - 1].as_str()] = item;
    Ok(())
}

fn summarise(output: &Path, choices: &Choices, settings: &GlobalSettings) {
    if settings.verbosity == crate::settings::Verbosity::Quiet {
        return;
    }
    let clusters: usize = choices.regions.iter().map(|(_, c, _)| c.len()).sum();
    let names: Vec<&str> = choices.regions.iter().map(|(r, _, _)| r.as_str()).collect();
    let on: Vec<&str> = choices.regions.iter().filter(|(_, _, e)| *e).map(|(r, _, _)| r.as_str()).collect();
    eprintln!(
        "Wrote {}: preset {}, {} region{} ({}), {clusters} cluster entr{}{}.",
        output.display(),
        choices.preset.as_str(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        if clusters == 1 { "y" } else { "ies" },
        if on.is_empty() { String::new() } else { format!("; audit logging turned on by apply in {}", on.join(", ")) },
    );
    eprintln!("Next: `eksaudit -c {} plan` shows what apply would create.", shell_path(output));
}

fn shell_path(p: &Path) -> String {
    let shown = p.display().to_string();
    if shown.chars().all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)) {
        shown
    } else {
        format!("'{}'", shown.replace('\'', "'\\''"))
    }
}
