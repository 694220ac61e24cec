//! `eksaudit outputs`: what the user pastes into the consumer's console, per region, from the desired state and
//! what live AWS holds (the queue URL, a generated external id). Pure: the AWS crate reads, this decides.

use std::fmt::Write;

use eksaudit_spec::{Address, ExternalId, Notify, RegionalSlot, RoleKind, RoleSlot, Spec};
use serde::Serialize;
use serde_json::Value;

use crate::desired::resolve_generated;
use crate::model::{Kind, Observation, ObservedState};
use crate::names::Names;
use crate::palette;
use crate::render::Colors;
use crate::DesiredState;

/// Version of the `outputs --json` document; bumped on any incompatible change.
pub const OUTPUTS_FORMAT_VERSION: &str = "1";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionOutputs {
    pub region: String,
    pub bucket_name: String,
    pub bucket_arn: String,
    /// Where the audit logs land in the bucket.
    pub prefix: String,
    /// `sns`, `sqs` or `none`.
    pub notify: &'static str,
    pub topic_arn: Option<String>,
    pub queue_arn: Option<String>,
    pub queue_url: Option<String>,
    /// What the objects hold: `cloudwatch-logs-envelopes` (concatenated gzip subscription envelopes, as CloudWatch
    /// Logs writes them) or `sentinel-awseks-rows` (gzip NDJSON, one `AWSEKSLogs_CL` row per audit event).
    pub object_format: &'static str,
    /// Sentinel: the stream's transform (its Lambda processor).
    pub transform_function_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outputs {
    pub format_version: &'static str,
    pub pipeline: String,
    pub account: String,
    pub preset: String,
    /// Who reads, for people.
    pub consumer: String,
    pub reader_role_arn: String,
    /// The `sts:ExternalId` the reader role demands (AWS-trusted readers); a generated one as the role holds it.
    pub external_id: Option<String>,
    /// Sentinel: the workspace the role session is named after, the audience, the provider.
    pub workspace_id: Option<String>,
    pub audience: Option<String>,
    pub oidc_provider_arn: Option<String>,
    pub regions: Vec<RegionOutputs>,
    /// Addresses of what the outputs name that does not exist yet (apply has not run, or failed).
    pub missing: Vec<String>,
}

fn present<'a>(observed: &'a ObservedState, address: &str) -> Option<&'a crate::ObservedResource> {
    match observed.resources.get(address) {
        Some(Observation::Present(o)) => Some(o),
        _ => None,
    }
}

/// The outputs of a spec's pipeline as live AWS holds it. `observed` needs the reader role, the buckets, topics,
/// queues and OIDC provider the desired state names.
pub fn outputs(spec: &Spec, desired: &DesiredState, observed: &ObservedState) -> Outputs {
    let account = observed.account.clone();
    let find = |address: &str| desired.resources.iter().find(|r| r.address == address);
    let mut missing = Vec::new();
    let mut check = |address: &str| {
        if find(address).is_some() && present(observed, address).is_none() {
            missing.push(address.to_string());
        }
    };
    let n = Names::new(spec, &account);
    let reader_address = Address::Role(RoleSlot::Reader).to_string();
    let reader = find(&reader_address);
    let reader_role_arn = n.role_arn(RoleKind::Reader);
    check(&reader_address);
    let external_id = spec.consumer.aws().and_then(|a| a.external_id.as_ref()).and_then(|id| match id {
        ExternalId::Fixed(id) => Some(id.clone()),
        ExternalId::Generated { .. } => {
            let want = reader.and_then(|r| r.fields.get("trust_policy")).map(|f| f.value.clone())?;
            let live = present(observed, &reader_address).and_then(|o| o.fields.get("trust_policy"));
            let resolved = resolve_generated(&want, live);
            let prefix = id.generated_prefix(&account)?;
            let mut found = None;
            walk_strings(&resolved, &mut |s| {
                if s.starts_with(&prefix) && !s.ends_with(crate::desired::GENERATED) {
                    found = Some(s.to_string());
                }
            });
            found
        }
    });
    let provider = desired.resources.iter().find(|r| r.kind == Kind::OidcProvider);
    if let Some(p) = provider {
        check(&p.address);
    }
    let oidc_provider_arn = provider.map(|p| n.oidc_provider_arn(&p.name));
    let web = spec.consumer.web_identity();
    let mut regions = Vec::new();
    for region in &spec.regions {
        let r = region.name.as_str();
        let at = |slot: RegionalSlot| Address::regional(r, slot).to_string();
        // A member account's region without a selected cluster has no pipeline there, so nothing to tell.
        if spec.accounts.is_some() && !desired.resources.iter().any(|d| d.address == at(RegionalSlot::Bucket)) {
            continue;
        }
        check(&at(RegionalSlot::Bucket));
        let (mut topic_arn, mut queue_arn, mut queue_url) = (None, None, None);
        match spec.consumer.notify {
            Notify::Sns => {
                check(&at(RegionalSlot::Topic));
                topic_arn = Some(n.topic_arn(r));
            }
            Notify::Sqs => {
                check(&at(RegionalSlot::Queue));
                queue_arn = Some(n.queue_arn(r));
                queue_url = present(observed, &at(RegionalSlot::Queue))
                    .and_then(|o| o.fields.get("url"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            Notify::None => {}
        }
        let transform_function_arn = spec.transforms().then(|| {
            check(&at(RegionalSlot::TransformFunction));
            n.transform_function_arn(r)
        });
        regions.push(RegionOutputs {
            region: r.to_string(),
            bucket_arn: n.bucket_arn(r),
            bucket_name: n.bucket(r),
            prefix: n.prefix(),
            notify: spec.consumer.notify.as_str(),
            topic_arn,
            queue_arn,
            queue_url,
            object_format: if spec.transforms() { "sentinel-awseks-rows" } else { "cloudwatch-logs-envelopes" },
            transform_function_arn,
        });
    }
    Outputs {
        format_version: OUTPUTS_FORMAT_VERSION,
        pipeline: spec.pipeline.name.clone(),
        account,
        preset: spec.consumer.preset.as_str().to_string(),
        consumer: spec.consumer.preset.vendor().to_string(),
        reader_role_arn,
        external_id,
        workspace_id: web.map(|w| w.workspace_id.clone()),
        audience: web.map(|w| w.audience.clone()),
        oidc_provider_arn,
        regions,
        missing,
    }
}

fn walk_strings(v: &Value, f: &mut dyn FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| walk_strings(x, f)),
        Value::Object(m) => m.values().for_each(|x| walk_strings(x, f)),
        _ => {}
    }
}

/// The outputs for people: the values a vendor's console asks for, labelled the way the console labels them.
pub fn text(o: &Outputs, colors: Colors) -> String {
    let mut out = String::new();
    let not_yet = "(not created yet: run `eksaudit apply`)";
    let _ = writeln!(
        out,
        "{} for pipeline {:?} in account {} (consumer: {})",
        colors.paint(palette::BOLD, "Outputs"),
        o.pipeline,
        o.account,
        o.consumer
    );
    let _ = writeln!(out, "  reader role ARN:   {}", o.reader_role_arn);
    match (&o.external_id, o.workspace_id.is_some()) {
        (Some(id), _) => {
            let _ = writeln!(out, "  external ID:       {id}");
        }
        (None, false) if o.missing.iter().any(|m| m == "role.reader") => {
            let _ = writeln!(out, "  external ID:       {not_yet}");
        }
        _ => {}
    }
    if let (Some(ws), Some(aud)) = (&o.workspace_id, &o.audience) {
        let _ = writeln!(out, "  workspace ID:      {ws}");
        let _ = writeln!(out, "  audience:          {aud}");
    }
    if let Some(p) = &o.oidc_provider_arn {
        let _ = writeln!(out, "  OIDC provider:     {p}");
    }
    for r in &o.regions {
        let _ = writeln!(out, "\n{}", colors.paint(palette::BOLD, &format!("Region {}", r.region)));
        let _ = writeln!(out, "  bucket ARN:        {}", r.bucket_arn);
        let _ = writeln!(out, "  bucket prefix:     {}", r.prefix);
        let format = match r.transform_function_arn {
            Some(_) => "gzip NDJSON, one AWSEKSLogs_CL row per audit event (.gz)",
            None => "concatenated gzip CloudWatch Logs subscription envelopes",
        };
        let _ = writeln!(out, "  objects:           {format}");
        if let Some(f) = &r.transform_function_arn {
            let _ = writeln!(out, "  transform:         {f}");
        }
        if let Some(t) = &r.topic_arn {
            let _ = writeln!(out, "  SNS topic ARN:     {t}");
        }
        if let Some(q) = &r.queue_arn {
            let _ = writeln!(out, "  SQS queue ARN:     {q}");
            let _ = writeln!(out, "  SQS queue URL:     {}", r.queue_url.as_deref().unwrap_or(not_yet));
        }
        if o.preset == "sentinel" {
            let _ = writeln!(
                out,
                "  Sentinel data connector (Amazon Web Services S3): Role to add = {}, SQS URL = {}",
                o.reader_role_arn,
                r.queue_url.as_deref().unwrap_or(not_yet)
            );
        }
    }
    if !o.missing.is_empty() {
        let _ = writeln!(out, "\n{} {}", colors.paint(palette::BOLD_YELLOW, "Not created yet:"), o.missing.join(", "));
    }
    out
}
