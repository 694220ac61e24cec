//! Act: carry out a plan (apply) or a destroy plan against AWS, in dependency order, concurrently where
//! independent. Every operation is idempotent: a create that finds its resource already there goes on, a delete
//! that finds nothing is done, so an interrupted run converges when run again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_firehose::types as fh;
use aws_sdk_s3::types as s3t;
use eksaudit_plan::{
    Action, DesiredResource, DesiredState, Kind, Plan, ResourceChange, CREATION_INTENT_TAG_PREFIX, INTERRUPTED_REASON,
};
use eksaudit_spec::{ExternalId, Spec};
use futures::future::join_all;
use futures::stream::{self, StreamExt};
use serde_json::Value;

use crate::retry::{retry, wait_for, Budgets};
use crate::{Aws, Error, RegionClients};

/// Clusters worked on at once within a region.
const CONCURRENT_CLUSTERS: usize = 4;

/// What happened to one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done { elapsed: Duration },
    Failed { error: String },
    Skipped { reason: String },
}

#[derive(Debug, Clone)]
pub struct StepResult {
    pub address: String,
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    pub outcome: Outcome,
}

/// Live progress for people: the binary prints these.
pub trait Progress: Sync {
    fn started(&self, change: &ResourceChange);
    fn waiting(&self, address: &str, what: &str);
    fn finished(&self, result: &StepResult);
}

pub struct Reconciler<'a> {
    pub aws: &'a Aws,
    pub regions: &'a BTreeMap<String, RegionClients>,
    pub spec: &'a Spec,
    pub account: &'a str,
    pub desired: &'a DesiredState,
    pub plan: &'a Plan,
    pub budgets: Budgets,
    pub progress: &'a dyn Progress,
}

fn field<'a>(d: &'a DesiredResource, name: &str) -> &'a Value {
    d.fields.get(name).map(|f| &f.value).unwrap_or(&Value::Null)
}

fn text(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn is_code(e: &Error, codes: &[&str]) -> bool {
    e.code().is_some_and(|c| codes.contains(&c))
}

/// Treats "already exists" as success: the resource is there, which is what a create wants.
fn exists_ok(r: Result<(), Error>) -> Result<(), Error> {
    match r {
        Err(e)
            if is_code(
                &e,
                &[
                    "EntityAlreadyExists",
                    "ResourceAlreadyExistsException",
                    "BucketAlreadyOwnedByYou",
                    "ResourceInUseException",
                ],
            ) && !e.message().contains("is not ACTIVE") =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Treats "not found" as success: a delete wants it gone.
fn gone_ok(r: Result<(), Error>) -> Result<(), Error> {
    match r {
        Err(e) if e.kind() == crate::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Firehose's words while the role it was given has not propagated yet.
fn iam_not_propagated(e: &Error) -> bool {
    let m = e.message().to_ascii_lowercase();
    [
        "unable to assume role",
        "is not authorized to",
        "access was denied",
        "the security token included in the request is invalid",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

/// SQS and S3's words while a principal or destination named in a policy is not known everywhere yet (a reader
/// role just created, a queue policy just set).
fn policy_not_propagated(e: &Error) -> bool {
    let m = e.message();
    (is_code(e, &["InvalidAttributeValue", "InvalidParameterValue"]) && m.contains("Policy"))
        || m.contains("Unable to validate the following destination configurations")
}

/// `n` characters of `alphabet`, from the operating system's random source.
fn random_string(n: usize, alphabet: &str) -> String {
    let alphabet: Vec<char> = alphabet.chars().collect();
    let mut bytes = vec![0u8; n * 2];
    if getrandom::getrandom(&mut bytes).is_err() || alphabet.is_empty() {
        // Never silently predictable: without an OS random source, fall back to the clock and a counter.
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = ((seed >> ((i % 16) * 8)) as u8).wrapping_add(i as u8);
        }
    }
    let len = alphabet.len().max(1);
    bytes.chunks(2).map(|c| alphabet[(usize::from(c[0]) << 8 | usize::from(c[1])) % len]).collect()
}

/// CloudWatch Logs' words until the stream is ACTIVE and the role has propagated.
fn test_message_not_delivered(e: &Error) -> bool {
    // A Lambda destination: its permission for CloudWatch Logs is not visible everywhere yet.
    e.message().contains("Could not deliver test message")
        || e.message().contains("Could not execute the lambda function")
}

impl Reconciler<'_> {
    fn change(&self, address: &str) -> Option<&ResourceChange> {
        self.plan.resources.iter().find(|r| r.address == address && r.action != Action::NoOp)
    }

    fn desired(&self, address: &str) -> Option<&DesiredResource> {
        self.desired.resources.iter().find(|r| r.address == address)
    }

    fn tags(&self) -> BTreeMap<String, String> {
        self.spec.resource_tags()
    }

    /// Runs one resource's change unless something it needs failed. `true` when the resource is in place.
    async fn step(
        &self,
        address: &str,
        needs: &[&str],
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) -> bool {
        let Some(change) = self.change(address) else { return !failed.lock().expect("lock").contains(address) };
        let blocked: Vec<String> = {
            let f = failed.lock().expect("lock");
            needs.iter().filter(|n| f.contains(**n)).map(|n| n.to_string()).collect()
        };
        let outcome = if !blocked.is_empty() {
            Outcome::Skipped { reason: format!("needs {}, which did not succeed", blocked.join(", ")) }
        } else {
            self.progress.started(change);
            let start = Instant::now();
            match self.execute(change).await {
                Ok(()) => Outcome::Done { elapsed: start.elapsed() },
                Err(e) => Outcome::Failed { error: e.to_string() },
            }
        };
        let ok = matches!(outcome, Outcome::Done { .. });
        if !ok {
            failed.lock().expect("lock").insert(address.to_string());
        }
        let result = StepResult {
            address: address.to_string(),
            kind: change.kind,
            name: change.name.clone(),
            action: change.action,
            outcome,
        };
        self.progress.finished(&result);
        results.lock().expect("lock").push(result);
        ok
    }

    /// Fills a generated external id's placeholder with a fresh random part (the role is being created, or its id
    /// no longer matches the spec's tenant).
    fn generate_ids(&self, doc: &Value) -> Value {
        let mut random = || match self.spec.consumer.aws().and_then(|a| a.external_id.as_ref()) {
            Some(ExternalId::Generated { random_len, alphabet, .. }) => random_string(*random_len, alphabet),
            _ => random_string(10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
        };
        eksaudit_plan::desired::fill_generated(doc, &mut random)
    }

    /// The global resources a plan changes, of one kind, deletes or not.
    fn global(&self, kind: Kind, deletes: bool) -> Vec<String> {
        self.plan
            .resources
            .iter()
            .filter(|r| r.kind == kind && r.region.is_none() && r.action != Action::NoOp)
            .filter(|r| (r.action == Action::Delete) == deletes)
            .map(|r| r.address.clone())
            .collect()
    }

    /// Regions with clients that the spec no longer names (found through the roles' trust).
    fn former_regions(&self) -> Vec<&str> {
        self.regions.keys().map(String::as_str).filter(|r| !self.spec.regions.iter().any(|s| s.name == *r)).collect()
    }

    /// Apply: first what is left in regions removed from the spec (torn down like destroy, the bucket and log
    /// groups kept); then the roles (narrowed only once that succeeded, so a failed run can find it again);
    /// then every region in parallel; within a region bucket → topic → notification and subscription → log
    /// group → stream → clusters (in parallel, bounded) → filters no longer wanted.
    pub async fn apply(&self) -> Vec<StepResult> {
        let failed = std::sync::Mutex::new(BTreeSet::new());
        let results = std::sync::Mutex::new(Vec::new());
        let former = self.former_regions();
        join_all(former.iter().map(|r| self.destroy_region(r, &failed, &results))).await;
        let leftovers: Vec<String> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.action == Action::Delete && r.region.as_deref().is_some_and(|x| former.contains(&x)))
            .map(|r| r.address.clone())
            .collect();
        // The reader role's trust names the OIDC provider: it exists (with our audience) first.
        for provider in self.global(Kind::OidcProvider, false) {
            self.step(&provider, &[], &failed, &results).await;
        }
        let mut needs: Vec<&str> = leftovers.iter().map(String::as_str).collect();
        let providers = self.global(Kind::OidcProvider, false);
        let reader_needs: Vec<&str> = needs.iter().copied().chain(providers.iter().map(String::as_str)).collect();
        futures::join!(
            self.step("role.firehose", &needs, &failed, &results),
            self.step("role.cloudwatch", &needs, &failed, &results),
            self.step("role.reader", &reader_needs, &failed, &results),
            self.step(eksaudit_plan::alerts::ROLE_ADDRESS, &needs, &failed, &results),
        );
        join_all(self.spec.regions.iter().map(|r| self.apply_region(&r.name, &failed, &results))).await;
        // What another preset left globally: an OIDC provider no role of ours trusts any more (once the reader's
        // trust moved off it), the reader role under its other name.
        needs = vec!["role.reader"];
        for address in self.global(Kind::OidcProvider, true).into_iter().chain(self.global(Kind::Role, true)) {
            self.step(&address, &needs, &failed, &results).await;
        }
        results.into_inner().expect("lock")
    }

    async fn apply_region(
        &self,
        region: &str,
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) {
        let at = |what: &str| format!("region.{region}.{what}");
        let (bucket, topic, notification, subscription, log_group, stream) = (
            at("bucket"),
            at("topic"),
            at("bucket_notification"),
            at("topic_subscription"),
            at("firehose_log_group"),
            at("stream"),
        );
        let (queue, dead_letter) = (at("queue"), at("dead_letter_queue"));
        let (key, access_logs) = (at("kms_key"), at("access_log_bucket"));
        // The key policy names the roles; the bucket and topic are encrypted with the key; the bucket logs into
        // the access-log bucket.
        self.step(&key, &["role.firehose", "role.reader", eksaudit_plan::alerts::ROLE_ADDRESS], failed, results).await;
        self.step(&access_logs, &[], failed, results).await;
        self.step(&bucket, &[key.as_str(), access_logs.as_str()], failed, results).await;
        self.step(&topic, &[key.as_str()], failed, results).await;
        self.step(&dead_letter, &[], failed, results).await;
        // Its policy names the reader role; its redrive policy the dead-letter queue.
        self.step(&queue, &[dead_letter.as_str(), "role.reader"], failed, results).await;
        let (notification_needs, subscription_needs) =
            ([bucket.as_str(), topic.as_str(), queue.as_str()], [topic.as_str()]);
        futures::join!(
            self.step(&notification, &notification_needs, failed, results),
            self.step(&subscription, &subscription_needs, failed, results),
            async {
                self.step(&log_group, &[], failed, results).await;
                self.step(&stream, &[&bucket, "role.firehose", &log_group], failed, results).await;
            }
        );
        let permission = self.apply_alerts(region, failed, results).await;
        let clusters = self.desired.matched_clusters.get(region).cloned().unwrap_or_default();
        stream::iter(clusters)
            .for_each_concurrent(CONCURRENT_CLUSTERS, |cluster| {
                let (stream, permission) = (stream.clone(), permission.clone());
                async move {
                    let at = |what: &str| format!("region.{region}.cluster.{cluster}.{what}");
                    let (logging, group, filter) = (at("audit_logging"), at("log_group"), at("filter"));
                    self.step(&logging, &[], failed, results).await;
                    self.step(&group, &[], failed, results).await;
                    self.step(&filter, &[&stream, "role.cloudwatch", &group], failed, results).await;
                    // After the pipeline's filter, which has the first claim on the log group's slots.
                    self.step(&at("alerts_filter"), &[&permission, &group, &filter], failed, results).await;
                }
            })
            .await;
        let mut stale: Vec<&ResourceChange> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.action == Action::Delete && r.region.as_deref() == Some(region))
            .collect();
        // Nothing is deleted while something of ours still points at it: our notification entry before its
        // topic or queue, a queue before its dead-letter queue.
        let rank = |r: &ResourceChange| match r.kind {
            Kind::BucketNotification | Kind::SubscriptionFilter => 0,
            Kind::TopicSubscription | Kind::FunctionPermission => 1,
            Kind::Function => 2,
            Kind::Topic => 3,
            Kind::Queue if r.address.ends_with(".queue") => 4,
            Kind::Queue => 5,
            _ => 6,
        };
        stale.sort_by_key(|r| rank(r));
        for s in stale {
            self.step(&s.address, &[], failed, results).await;
        }
    }

    /// `[alerts]` in a region: topic and log group → function (its role, topic and log group first) → the
    /// permission for CloudWatch Logs. Returns the permission's address, which the alerts filters need.
    async fn apply_alerts(
        &self,
        region: &str,
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) -> String {
        let at = |what: &str| format!("region.{region}.{what}");
        let (topic, group, function) = (at("alerts_topic"), at("alerts_log_group"), at("alerts_function"));
        // Encrypted with the pipeline's key, whose policy names the alerts role.
        self.step(&topic, &[&at("kms_key")], failed, results).await;
        for s in self.alerts_subscriptions(region) {
            self.step(&s, &[&topic], failed, results).await;
        }
        self.step(&group, &[], failed, results).await;
        self.step(&function, &[eksaudit_plan::alerts::ROLE_ADDRESS, &topic, &group], failed, results).await;
        self.step(&at("alerts_permission"), &[&function], failed, results).await;
        at("alerts_permission")
    }

    /// The email and HTTPS subscriptions of a region's alerts topic that the plan changes.
    fn alerts_subscriptions(&self, region: &str) -> Vec<String> {
        let prefix = format!("region.{region}.alerts_subscription.");
        self.plan.resources.iter().filter(|r| r.address.starts_with(&prefix)).map(|r| r.address.clone()).collect()
    }

    /// Destroy: the reverse order. Filters first (so nothing sends into a stream being deleted), then stream,
    /// notification entry, subscription, topic, bucket (when asked), and the roles last.
    pub async fn destroy(&self) -> Vec<StepResult> {
        let failed = std::sync::Mutex::new(BTreeSet::new());
        let results = std::sync::Mutex::new(Vec::new());
        // Every region with clients: the spec's and those removed from it.
        join_all(self.regions.keys().map(|r| self.destroy_region(r, &failed, &results))).await;
        let everything: Vec<String> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.region.is_some() && r.action == Action::Delete)
            .map(|r| r.address.clone())
            .collect();
        let needs: Vec<&str> = everything.iter().map(String::as_str).collect();
        let mut roles: Vec<String> =
            ["role.firehose", "role.cloudwatch", "role.reader", eksaudit_plan::alerts::ROLE_ADDRESS]
                .map(str::to_string)
                .to_vec();
        for former in self.global(Kind::Role, true) {
            if !roles.contains(&former) {
                roles.push(former);
            }
        }
        join_all(roles.iter().map(|r| self.step(r, &needs, &failed, &results))).await;
        // The OIDC provider last: the reader role trusting it is gone.
        for provider in self.global(Kind::OidcProvider, true) {
            self.step(&provider, &["role.reader"], &failed, &results).await;
        }
        results.into_inner().expect("lock")
    }

    async fn destroy_region(
        &self,
        region: &str,
        failed: &std::sync::Mutex<BTreeSet<String>>,
        results: &std::sync::Mutex<Vec<StepResult>>,
    ) {
        let filters: Vec<String> = self
            .plan
            .resources
            .iter()
            .filter(|r| r.kind == Kind::SubscriptionFilter && r.region.as_deref() == Some(region))
            .map(|r| r.address.clone())
            .collect();
        stream::iter(filters.iter())
            .for_each_concurrent(CONCURRENT_CLUSTERS, |f| async move {
                self.step(f, &[], failed, results).await;
            })
            .await;
        let at = |what: &str| format!("region.{region}.{what}");
        let filter_refs: Vec<&str> = filters.iter().map(String::as_str).collect();
        self.step(&at("stream"), &filter_refs, failed, results).await;
        self.step(&at("alerts_permission"), &filter_refs, failed, results).await;
        self.step(&at("alerts_function"), &[&at("alerts_permission")], failed, results).await;
        for s in self.alerts_subscriptions(region) {
            self.step(&s, &[], failed, results).await;
        }
        self.step(&at("alerts_topic"), &[&at("alerts_function")], failed, results).await;
        self.step(&at("bucket_notification"), &[], failed, results).await;
        self.step(&at("topic_subscription"), &[], failed, results).await;
        self.step(&at("topic"), &[&at("bucket_notification"), &at("topic_subscription")], failed, results).await;
        self.step(&at("queue"), &[&at("bucket_notification")], failed, results).await;
        self.step(&at("dead_letter_queue"), &[&at("queue")], failed, results).await;
        self.step(&at("bucket"), &[&at("stream"), &at("bucket_notification")], failed, results).await;
        self.step(&at("access_log_bucket"), &[&at("bucket")], failed, results).await;
        // The key goes last, once nothing it encrypts is left.
        self.step(&at("kms_key"), &[&at("bucket"), &at("topic"), &at("stream")], failed, results).await;
    }

    async fn execute(&self, change: &ResourceChange) -> Result<(), Error> {
        let region = change.region.as_deref().and_then(|r| self.regions.get(r));
        let d = self.desired(&change.address);
        match (change.kind, change.action, region, d) {
            (Kind::OidcProvider, Action::Delete, _, _) => self.delete_oidc_provider(&change.name).await,
            (Kind::OidcProvider, Action::Create, _, Some(d)) => self.create_oidc_provider(d).await,
            (Kind::OidcProvider, Action::Update | Action::Replace, _, Some(d)) => {
                self.update_oidc_provider(d, change).await
            }
            (Kind::Queue, Action::Delete, Some(c), _) => delete_queue(c, &change.name).await,
            (Kind::Queue, Action::Create, Some(c), Some(d)) => self.create_queue(c, d).await,
            (Kind::Queue, Action::Update | Action::Replace, Some(c), Some(d)) => {
                self.update_queue(c, d, &changed(change)).await
            }
            (Kind::Role, Action::Delete, _, _) => self.delete_role(&change.name).await,
            (Kind::Role, Action::Create, _, Some(d)) => self.create_role(d).await,
            (Kind::Role, Action::Update | Action::Replace, _, Some(d)) => self.update_role(d, change).await,
            (Kind::KmsKey, Action::Delete, Some(c), _) => crate::kms::schedule_deletion(c, &change.name).await,
            (Kind::KmsKey, Action::Create, Some(c), Some(d)) => {
                crate::kms::create_key(c, d, &self.spec.pipeline.name, &self.tags()).await
            }
            (Kind::KmsKey, _, Some(c), Some(d)) => crate::kms::update_key(c, d, &changed(change), &self.tags()).await,
            (Kind::Bucket, Action::Delete, Some(c), _) => delete_bucket(c, &change.name).await,
            (Kind::Bucket, Action::Create, Some(c), Some(d)) => self.create_bucket(c, d).await,
            (Kind::Bucket, Action::Update | Action::Replace, Some(c), Some(d)) => {
                let interrupted = change.reason.as_deref().is_some_and(|r| r.starts_with(INTERRUPTED_REASON));
                let mut fields = changed(change);
                if interrupted {
                    // The owner tag first, then the intent can go.
                    fields.sort_by_key(|f| f != "tags");
                }
                self.bucket_settings(c, d, &fields).await?;
                if interrupted {
                    self.creation_intent(c, None).await;
                }
                Ok(())
            }
            (Kind::Topic, Action::Delete, Some(c), _) => self.delete_topic(c, &change.name).await,
            (Kind::Topic, Action::Create, Some(c), Some(d)) => self.create_topic(c, d).await,
            (Kind::Topic, _, Some(c), Some(d)) => self.update_topic(c, d, &changed(change)).await,
            (Kind::TopicSubscription, Action::Delete, Some(c), _) => unsubscribe(c, change).await,
            (Kind::TopicSubscription, _, Some(c), Some(d)) => subscribe(c, d).await,
            (Kind::BucketNotification, Action::Delete, Some(c), _) => self.notification(c, &change.name, None).await,
            (Kind::BucketNotification, _, Some(c), Some(d)) => self.notification(c, &change.name, Some(d)).await,
            (Kind::FirehoseLogGroup | Kind::LogGroup | Kind::FunctionLogGroup, _, Some(c), Some(d)) => {
                self.log_group(c, d, change.action).await
            }
            (Kind::Function, Action::Delete, Some(c), _) => crate::alerts::delete_function(c, &change.name).await,
            (Kind::Function, Action::Create, Some(c), Some(d)) => self.create_function(c, d).await,
            (Kind::Function, _, Some(c), Some(d)) => self.update_function(c, d, &changed(change)).await,
            (Kind::FunctionPermission, Action::Delete, Some(c), _) => {
                crate::alerts::remove_permission(c, &crate::alerts::permission_function(change), &change.name).await
            }
            (Kind::FunctionPermission, _, Some(c), Some(d)) => self.put_permission(c, d, change.action).await,
            (Kind::DeliveryStream, Action::Delete, Some(c), _) => {
                self.delete_stream(c, &change.name, &change.address).await
            }
            (Kind::DeliveryStream, Action::Create, Some(c), Some(d)) => self.create_stream(c, d).await,
            (Kind::DeliveryStream, Action::Replace, Some(c), Some(d)) => {
                self.delete_stream(c, &d.name, &d.address).await?;
                self.create_stream(c, d).await
            }
            (Kind::DeliveryStream, Action::Update, Some(c), Some(d)) => {
                self.update_stream(c, d, &changed(change)).await
            }
            (Kind::ClusterLogging, _, Some(c), Some(d)) => self.enable_audit_logging(c, d).await,
            (Kind::SubscriptionFilter, Action::Delete, Some(c), _) => {
                let group = change
                    .changes
                    .iter()
                    .find(|f| f.field == "log_group")
                    .and_then(|f| f.old.as_ref())
                    .map(text)
                    .unwrap_or_default();
                delete_filter(c, &group, &change.name).await
            }
            (Kind::SubscriptionFilter, _, Some(c), Some(d)) => self.put_filter(c, d).await,
            _ => Err(Error::Failed {
                what: format!("eksaudit cannot {:?} a {} ({})", change.action, change.kind.label(), change.address),
            }),
        }
    }

    // --- IAM --------------------------------------------------------------------------------------------

    async fn create_role(&self, d: &DesiredResource) -> Result<(), Error> {
        let iam = self.aws.iam();
        let trust = self.generate_ids(field(d, "trust_policy")).to_string();
        let mut create = iam
            .create_role()
            .role_name(&d.name)
            .assume_role_policy_document(&trust)
            .description(format!("eksaudit pipeline {}", self.spec.pipeline.name));
        for (k, v) in self.tags() {
            create = create.tags(aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(build_error)?);
        }
        match create.send().await.map_err(|e| Error::call("iam:CreateRole", &d.name, e)) {
            Ok(_) => {}
            // Left by an interrupted run: bring it in line instead.
            Err(e) if is_code(&e, &["EntityAlreadyExists"]) => {
                iam.update_assume_role_policy()
                    .role_name(&d.name)
                    .policy_document(&trust)
                    .send()
                    .await
                    .map_err(|e| Error::call("iam:UpdateAssumeRolePolicy", &d.name, e))?;
            }
            Err(e) => return Err(e),
        }
        self.put_role_policy(d).await
    }

    async fn put_role_policy(&self, d: &DesiredResource) -> Result<(), Error> {
        self.aws
            .iam()
            .put_role_policy()
            .role_name(&d.name)
            .policy_name(&self.spec.pipeline.name)
            .policy_document(field(d, "permissions").to_string())
            .send()
            .await
            .map_err(|e| Error::call("iam:PutRolePolicy", &d.name, e))?;
        Ok(())
    }

    async fn update_role(&self, d: &DesiredResource, change: &ResourceChange) -> Result<(), Error> {
        let iam = self.aws.iam();
        for c in &change.changes {
            match c.field.as_str() {
                "trust_policy" => {
                    // The plan's new value keeps a generated external id the role already has.
                    let trust = self.generate_ids(c.new.as_ref().unwrap_or(field(d, "trust_policy")));
                    iam.update_assume_role_policy()
                        .role_name(&d.name)
                        .policy_document(trust.to_string())
                        .send()
                        .await
                        .map_err(|e| Error::call("iam:UpdateAssumeRolePolicy", &d.name, e))?;
                }
                "permissions" => self.put_role_policy(d).await?,
                "attached_policies" => {
                    for arn in c.old.as_ref().and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
                    {
                        gone_ok(
                            iam.detach_role_policy()
                                .role_name(&d.name)
                                .policy_arn(arn)
                                .send()
                                .await
                                .map(|_| ())
                                .map_err(|e| Error::call("iam:DetachRolePolicy", &d.name, e)),
                        )?;
                    }
                }
                _ => {}
            }
        }
        // Tags: also the adoption of an untagged role.
        let mut tag = iam.tag_role().role_name(&d.name);
        for (k, v) in self.tags() {
            tag = tag.tags(aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(build_error)?);
        }
        tag.send().await.map_err(|e| Error::call("iam:TagRole", &d.name, e))?;
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<(), Error> {
        let iam = self.aws.iam();
        let inline = match iam.list_role_policies().role_name(name).send().await {
            Ok(out) => out.policy_names().to_vec(),
            Err(e) => {
                let e = Error::call("iam:ListRolePolicies", name, e);
                return if e.kind() == crate::ErrorKind::NotFound { Ok(()) } else { Err(e) };
            }
        };
        for p in inline {
            gone_ok(
                iam.delete_role_policy()
                    .role_name(name)
                    .policy_name(&p)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("iam:DeleteRolePolicy", name, e)),
            )?;
        }
        let attached = iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| Error::call("iam:ListAttachedRolePolicies", name, e))?;
        for a in attached.attached_policies() {
            if let Some(arn) = a.policy_arn() {
                gone_ok(
                    iam.detach_role_policy()
                        .role_name(name)
                        .policy_arn(arn)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| Error::call("iam:DetachRolePolicy", name, e)),
                )?;
            }
        }
        gone_ok(
            iam.delete_role()
                .role_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::call("iam:DeleteRole", name, e)),
        )
    }

    // --- S3 ---------------------------------------------------------------------------------------------

    async fn create_bucket(&self, c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
        self.creation_intent(c, Some(&d.name)).await;
        let mut create = c.s3.create_bucket().bucket(&d.name);
        if c.region != "us-east-1" {
            create = create.create_bucket_configuration(
                s3t::CreateBucketConfiguration::builder()
                    .location_constraint(s3t::BucketLocationConstraint::from(c.region.as_str()))
                    .build(),
            );
        }
        exists_ok(create.send().await.map(|_| ()).map_err(|e| Error::call("s3:CreateBucket", &d.name, e)))?;
        // The owner tag first: S3 cannot tag at creation, and until the tag is there the bucket is not provably
        // ours (see INTERRUPTED_CREATE for a run stopped before it).
        let mut all: Vec<String> = vec!["tags".to_string()];
        all.extend(d.fields.keys().filter(|k| *k != "tags").cloned());
        self.bucket_settings(c, d, &all).await?;
        self.creation_intent(c, None).await;
        Ok(())
    }

    /// Writes (`Some(bucket)`) or clears (`None`) the creation intent for this region's bucket on the pipeline's
    /// own Firehose role: S3 cannot tag a bucket as it creates it, and the intent is what proves an untagged
    /// bucket left by an interrupted apply is ours. Best effort: without it (a reused role, a role that failed),
    /// such a bucket must be adopted by hand.
    async fn creation_intent(&self, c: &RegionClients, bucket: Option<&str>) {
        let Some(role) = self.desired("role.firehose").filter(|r| r.management == eksaudit_plan::Management::Owned)
        else {
            return;
        };
        let key = format!("{CREATION_INTENT_TAG_PREFIX}{}", c.region);
        let iam = self.aws.iam();
        let result = match bucket {
            Some(bucket) => match aws_sdk_iam::types::Tag::builder().key(&key).value(bucket).build() {
                Ok(tag) => iam
                    .tag_role()
                    .role_name(&role.name)
                    .tags(tag)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("iam:TagRole", &role.name, e)),
                Err(e) => Err(build_error(e)),
            },
            None => iam
                .untag_role()
                .role_name(&role.name)
                .tag_keys(&key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::call("iam:UntagRole", &role.name, e)),
        };
        if let Err(e) = result {
            tracing::warn!(role = %role.name, "cannot record the bucket's creation intent: {e}");
        }
    }

    /// One setting at a time: S3 answers OperationAborted to concurrent configuration calls on one bucket.
    async fn bucket_settings(&self, c: &RegionClients, d: &DesiredResource, fields: &[String]) -> Result<(), Error> {
        let name = d.name.as_str();
        let conflict = |e: &Error| is_code(e, &["OperationAborted"]);
        let budget = self.budgets.s3_conflict;
        for f in fields {
            let v = field(d, f);
            match f.as_str() {
                "tags" => {
                    let tags = self.merged_bucket_tags(c, name).await?;
                    let set: Result<Vec<s3t::Tag>, _> =
                        tags.iter().map(|(k, v)| s3t::Tag::builder().key(k).value(v).build()).collect();
                    let tagging = s3t::Tagging::builder()
                        .set_tag_set(Some(set.map_err(build_error)?))
                        .build()
                        .map_err(build_error)?;
                    retry(budget, conflict, || async {
                        c.s3.put_bucket_tagging()
                            .bucket(name)
                            .tagging(tagging.clone())
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| Error::call("s3:PutBucketTagging", name, e))
                    })
                    .await?;
                }
                "public_access_block" => {
                    let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(true);
                    let pab = s3t::PublicAccessBlockConfiguration::builder()
                        .block_public_acls(b("block_public_acls"))
                        .ignore_public_acls(b("ignore_public_acls"))
                        .block_public_policy(b("block_public_policy"))
                        .restrict_public_buckets(b("restrict_public_buckets"))
                        .build();
                    retry(budget, conflict, || async {
                        c.s3.put_public_access_block()
                            .bucket(name)
                            .public_access_block_configuration(pab.clone())
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| Error::call("s3:PutPublicAccessBlock", name, e))
                    })
                    .await?;
                }
                "ownership" => {
                    let rule = s3t::OwnershipControlsRule::builder()
                        .object_ownership(s3t::ObjectOwnership::from(text(v).as_str()))
                        .build()
                        .map_err(build_error)?;
                    let controls = s3t::OwnershipControls::builder().rules(rule).build().map_err(build_error)?;
                    retry(budget, conflict, || async {
                        c.s3.put_bucket_ownership_controls()
                            .bucket(name)
                            .ownership_controls(controls.clone())
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| Error::call("s3:PutBucketOwnershipControls", name, e))
                    })
                    .await?;
                }
                "encryption" => {
                    let algorithm = v.get("algorithm").map(text).unwrap_or_else(|| "AES256".into());
                    let mut by_default = s3t::ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(s3t::ServerSideEncryption::from(algorithm.as_str()));
                    if let Some(key) = v.get("kms_key_id").and_then(Value::as_str) {
                        by_default = by_default.kms_master_key_id(key);
                    }
                    let rule = s3t::ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(by_default.build().map_err(build_error)?)
                        .set_bucket_key_enabled(v.get("bucket_key").and_then(Value::as_bool))
                        .build();
                    let config =
                        s3t::ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(build_error)?;
                    retry(budget, conflict, || async {
                        c.s3.put_bucket_encryption()
                            .bucket(name)
                            .server_side_encryption_configuration(config.clone())
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| Error::call("s3:PutBucketEncryption", name, e))
                    })
                    .await?;
                }
                "policy" => {
                    let doc = v.to_string();
                    retry(budget, conflict, || async {
                        c.s3.put_bucket_policy()
                            .bucket(name)
                            .policy(&doc)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| Error::call("s3:PutBucketPolicy", name, e))
                    })
                    .await?;
                }
                "versioning" => {
                    let status = if v == "Enabled" {
                        s3t::BucketVersioningStatus::Enabled
                    } else {
                        s3t::BucketVersioningStatus::Suspended
                    };
                    let config = s3t::VersioningConfiguration::builder().status(status).build();
                    retry(budget, conflict, || async {
                        c.s3.put_bucket_versioning()
                            .bucket(name)
                            .versioning_configuration(config.clone())
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| Error::call("s3:PutBucketVersioning", name, e))
                    })
                    .await?;
                }
                "logging" => self.bucket_logging(c, name, v).await?,
                "lifecycle" => {
                    let days = |k: &str| v.get(k).and_then(Value::as_i64).map(|d| d as i32);
                    let mut rule = s3t::LifecycleRule::builder()
                        .id(&self.spec.pipeline.name)
                        .status(s3t::ExpirationStatus::Enabled)
                        .filter(s3t::LifecycleRuleFilter::builder().prefix("").build());
                    if let Some(d) = days("expire_current_days") {
                        rule = rule.expiration(s3t::LifecycleExpiration::builder().days(d).build());
                    }
                    if let Some(d) = days("expire_noncurrent_days") {
                        rule = rule.noncurrent_version_expiration(
                            s3t::NoncurrentVersionExpiration::builder().noncurrent_days(d).build(),
                        );
                    }
                    if let Some(d) = days("abort_incomplete_multipart_days") {
                        rule = rule.abort_incomplete_multipart_upload(
                            s3t::AbortIncompleteMultipartUpload::builder().days_after_initiation(d).build(),
                        );
                    }
                    let config = s3t::BucketLifecycleConfiguration::builder()
                        .rules(rule.build().map_err(build_error)?)
                        .build()
                        .map_err(build_error)?;
                    retry(budget, conflict, || async {
                        c.s3.put_bucket_lifecycle_configuration()
                            .bucket(name)
                            .lifecycle_configuration(config.clone())
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| Error::call("s3:PutBucketLifecycleConfiguration", name, e))
                    })
                    .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Server access logging into the access-log bucket (`null`: off). S3 checks the target bucket's policy,
    /// which may have been set a moment ago.
    async fn bucket_logging(&self, c: &RegionClients, name: &str, v: &Value) -> Result<(), Error> {
        let mut status = s3t::BucketLoggingStatus::builder();
        if let Some(target) = v.get("target_bucket").and_then(Value::as_str) {
            status = status.logging_enabled(
                s3t::LoggingEnabled::builder()
                    .target_bucket(target)
                    .target_prefix(v.get("target_prefix").map(text).unwrap_or_default())
                    .build()
                    .map_err(build_error)?,
            );
        }
        let status = status.build();
        retry(
            self.budgets.iam_propagation,
            |e| is_code(e, &["OperationAborted", "InvalidTargetBucketForLogging"]),
            || async {
                c.s3.put_bucket_logging()
                    .bucket(name)
                    .bucket_logging_status(status.clone())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("s3:PutBucketLogging", name, e))
            },
        )
        .await
    }

    /// The bucket's tags with ours set: tags others put on it stay.
    async fn merged_bucket_tags(&self, c: &RegionClients, name: &str) -> Result<BTreeMap<String, String>, Error> {
        let mut tags: BTreeMap<String, String> = match c.s3.get_bucket_tagging().bucket(name).send().await {
            Ok(out) => out.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect(),
            Err(e) => {
                let e = Error::call("s3:GetBucketTagging", name, e);
                if e.kind() != crate::ErrorKind::NotFound {
                    return Err(e);
                }
                BTreeMap::new()
            }
        };
        tags.extend(self.tags());
        Ok(tags)
    }

    /// Read, merge ours, write: PutBucketNotificationConfiguration replaces the whole configuration, so every
    /// entry of others is written back as it was. `desired: None` removes ours.
    async fn notification(
        &self,
        c: &RegionClients,
        bucket: &str,
        desired: Option<&DesiredResource>,
    ) -> Result<(), Error> {
        let current = match c.s3.get_bucket_notification_configuration().bucket(bucket).send().await {
            Ok(out) => out,
            Err(e) => {
                let e = Error::call("s3:GetBucketNotificationConfiguration", bucket, e);
                return if desired.is_none() && e.kind() == crate::ErrorKind::NotFound { Ok(()) } else { Err(e) };
            }
        };
        let id = self.spec.pipeline.name.as_str();
        let mut topics: Vec<s3t::TopicConfiguration> =
            current.topic_configurations().iter().filter(|t| t.id() != Some(id)).cloned().collect();
        let mut queues: Vec<s3t::QueueConfiguration> =
            current.queue_configurations().iter().filter(|q| q.id() != Some(id)).cloned().collect();
        let ours_there =
            topics.len() < current.topic_configurations().len() || queues.len() < current.queue_configurations().len();
        if desired.is_none() && !ours_there {
            return Ok(()); // ours is not there: nothing to remove
        }
        if let Some(d) = desired {
            let events: Vec<s3t::Event> = field(d, "events")
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(s3t::Event::from)
                .collect();
            let prefix = s3t::FilterRule::builder()
                .name(s3t::FilterRuleName::Prefix)
                .value(text(field(d, "filter_prefix")))
                .build();
            let filter = s3t::NotificationConfigurationFilter::builder()
                .key(s3t::S3KeyFilter::builder().filter_rules(prefix).build())
                .build();
            if field(d, "destination_type") == "queue" {
                queues.push(
                    s3t::QueueConfiguration::builder()
                        .id(id)
                        .queue_arn(text(field(d, "queue_arn")))
                        .set_events(Some(events))
                        .filter(filter)
                        .build()
                        .map_err(build_error)?,
                );
            } else {
                topics.push(
                    s3t::TopicConfiguration::builder()
                        .id(id)
                        .topic_arn(text(field(d, "topic_arn")))
                        .set_events(Some(events))
                        .filter(filter)
                        .build()
                        .map_err(build_error)?,
                );
            }
        }
        let config = s3t::NotificationConfiguration::builder()
            .set_topic_configurations(Some(topics))
            .set_queue_configurations(Some(queues))
            .set_lambda_function_configurations(Some(current.lambda_function_configurations().to_vec()))
            .set_event_bridge_configuration(current.event_bridge_configuration().cloned())
            .build();
        // S3 validates the destination with a test message: a queue or topic policy set moments ago may not let it
        // in yet.
        retry(
            self.budgets.iam_propagation,
            |e| is_code(e, &["OperationAborted"]) || policy_not_propagated(e),
            || async {
                c.s3.put_bucket_notification_configuration()
                    .bucket(bucket)
                    .notification_configuration(config.clone())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("s3:PutBucketNotificationConfiguration", bucket, e))
            },
        )
        .await
    }

    // --- SNS --------------------------------------------------------------------------------------------

    /// The pipeline's topic, or the alerts topic: `name` is the desired or changed resource's.
    fn topic_arn(&self, c: &RegionClients, name: &str) -> String {
        format!("arn:{}:sns:{}:{}:{name}", eksaudit_spec::partition(&c.region), c.region, self.account)
    }

    async fn create_topic(&self, c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
        let mut create = c.sns.create_topic().name(&d.name);
        for (k, v) in self.tags() {
            create = create.tags(aws_sdk_sns::types::Tag::builder().key(k).value(v).build().map_err(build_error)?);
        }
        create.send().await.map_err(|e| Error::call("sns:CreateTopic", &d.name, e))?;
        let mut settings = vec!["policy".to_string()];
        if field(d, "kms_master_key_id").as_str().is_some_and(|k| !k.is_empty()) {
            settings.push("kms_master_key_id".into());
        }
        self.update_topic(c, d, &settings).await
    }

    async fn update_topic(&self, c: &RegionClients, d: &DesiredResource, fields: &[String]) -> Result<(), Error> {
        let arn = self.topic_arn(c, &d.name);
        if fields.iter().any(|f| f == "policy") {
            c.sns
                .set_topic_attributes()
                .topic_arn(&arn)
                .attribute_name("Policy")
                .attribute_value(field(d, "policy").to_string())
                .send()
                .await
                .map_err(|e| Error::call("sns:SetTopicAttributes", &arn, e))?;
        }
        if fields.iter().any(|f| f == "kms_master_key_id") {
            c.sns
                .set_topic_attributes()
                .topic_arn(&arn)
                .attribute_name("KmsMasterKeyId")
                .attribute_value(text(field(d, "kms_master_key_id")))
                .send()
                .await
                .map_err(|e| Error::call("sns:SetTopicAttributes", &arn, e))?;
        }
        if fields.iter().any(|f| f == "tags") {
            let mut tag = c.sns.tag_resource().resource_arn(&arn);
            for (k, v) in self.tags() {
                tag = tag.tags(aws_sdk_sns::types::Tag::builder().key(k).value(v).build().map_err(build_error)?);
            }
            tag.send().await.map_err(|e| Error::call("sns:TagResource", &arn, e))?;
        }
        Ok(())
    }

    async fn delete_topic(&self, c: &RegionClients, name: &str) -> Result<(), Error> {
        let arn = self.topic_arn(c, name);
        gone_ok(
            c.sns
                .delete_topic()
                .topic_arn(&arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::call("sns:DeleteTopic", &arn, e)),
        )
    }

    // --- SQS --------------------------------------------------------------------------------------------

    /// The queue's attributes as SQS takes them, for the given fields.
    fn queue_attributes(
        d: &DesiredResource,
        fields: &[String],
    ) -> HashMap<aws_sdk_sqs::types::QueueAttributeName, String> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let mut attrs = HashMap::new();
        for f in fields {
            let v = field(d, f);
            match f.as_str() {
                "encryption" => {
                    attrs.insert(A::SqsManagedSseEnabled, (v == "SSE-SQS").to_string());
                }
                "policy" => {
                    attrs.insert(A::Policy, v.to_string());
                }
                "message_retention_seconds" => {
                    attrs.insert(A::MessageRetentionPeriod, text(v));
                }
                "redrive_policy" => {
                    let redrive = serde_json::json!({
                        "deadLetterTargetArn": v["dead_letter_target_arn"],
                        "maxReceiveCount": v["max_receive_count"],
                    });
                    attrs.insert(A::RedrivePolicy, redrive.to_string());
                }
                _ => {}
            }
        }
        attrs
    }

    async fn create_queue(&self, c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
        let name = d.name.as_str();
        let all: Vec<String> = d.fields.keys().cloned().collect();
        let attributes = Self::queue_attributes(d, &all);
        let tags: HashMap<String, String> = self.tags().into_iter().collect();
        let created = retry(self.budgets.iam_propagation, policy_not_propagated, || async {
            c.sqs
                .create_queue()
                .queue_name(name)
                .set_attributes(Some(attributes.clone()))
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::call("sqs:CreateQueue", name, e))
        })
        .await;
        match created {
            Ok(()) => Ok(()),
            // Left by an interrupted run with other settings: bring it in line.
            Err(e) if is_code(&e, &["QueueAlreadyExists", "QueueNameExists"]) => self.update_queue(c, d, &all).await,
            Err(e) => Err(e),
        }
    }

    async fn update_queue(&self, c: &RegionClients, d: &DesiredResource, fields: &[String]) -> Result<(), Error> {
        let name = d.name.as_str();
        let url = queue_url(c, name).await?;
        let attributes = Self::queue_attributes(d, fields);
        if !attributes.is_empty() {
            retry(self.budgets.iam_propagation, policy_not_propagated, || async {
                c.sqs
                    .set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(attributes.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("sqs:SetQueueAttributes", name, e))
            })
            .await?;
        }
        if fields.iter().any(|f| f == "tags") {
            let tags: HashMap<String, String> = self.tags().into_iter().collect();
            c.sqs
                .tag_queue()
                .queue_url(&url)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::call("sqs:TagQueue", name, e))?;
        }
        Ok(())
    }

    // --- IAM OIDC provider -----------------------------------------------------------------------------

    fn oidc_provider_arn(&self, issuer: &str) -> String {
        crate::observe::oidc_provider_arn(self.spec, self.account, issuer)
    }

    async fn create_oidc_provider(&self, d: &DesiredResource) -> Result<(), Error> {
        let iam = self.aws.iam();
        let strings = |v: &Value| -> Vec<String> { v.as_array().into_iter().flatten().map(text).collect() };
        let mut create = iam
            .create_open_id_connect_provider()
            .url(text(field(d, "url")))
            .set_client_id_list(Some(strings(field(d, "client_ids"))))
            .set_thumbprint_list(Some(strings(field(d, "thumbprints"))));
        for (k, v) in self.tags() {
            create = create.tags(aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(build_error)?);
        }
        match create.send().await.map_err(|e| Error::call("iam:CreateOpenIDConnectProvider", &d.name, e)) {
            Ok(_) => Ok(()),
            // There is one per issuer: made meanwhile (or by an interrupted run), it is used, with our audience.
            Err(e) if is_code(&e, &["EntityAlreadyExists"]) => {
                let add: Vec<String> = strings(field(d, "client_ids"));
                self.add_client_ids(&d.name, &add).await
            }
            Err(e) => Err(e),
        }
    }

    async fn update_oidc_provider(&self, d: &DesiredResource, change: &ResourceChange) -> Result<(), Error> {
        for c in &change.changes {
            match c.field.as_str() {
                "client_ids" => {
                    let have: Vec<&Value> = c.old.as_ref().and_then(Value::as_array).into_iter().flatten().collect();
                    let add: Vec<String> = field(d, "client_ids")
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|v| !have.contains(v))
                        .map(text)
                        .collect();
                    self.add_client_ids(&d.name, &add).await?;
                }
                // Only a provider of ours is tagged (the diff leaves a shared one's tags alone).
                "tags" => {
                    let arn = self.oidc_provider_arn(&d.name);
                    let mut tag = self.aws.iam().tag_open_id_connect_provider().open_id_connect_provider_arn(&arn);
                    for (k, v) in self.tags() {
                        tag =
                            tag.tags(aws_sdk_iam::types::Tag::builder().key(k).value(v).build().map_err(build_error)?);
                    }
                    tag.send().await.map_err(|e| Error::call("iam:TagOpenIDConnectProvider", &arn, e))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn add_client_ids(&self, issuer: &str, ids: &[String]) -> Result<(), Error> {
        let arn = self.oidc_provider_arn(issuer);
        for id in ids {
            self.aws
                .iam()
                .add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .client_id(id)
                .send()
                .await
                .map_err(|e| Error::call("iam:AddClientIDToOpenIDConnectProvider", &arn, e))?;
        }
        Ok(())
    }

    /// Only ever reached for a provider of ours that no other role trusts (the plan decides).
    async fn delete_oidc_provider(&self, issuer: &str) -> Result<(), Error> {
        let arn = self.oidc_provider_arn(issuer);
        gone_ok(
            self.aws
                .iam()
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(&arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::call("iam:DeleteOpenIDConnectProvider", &arn, e)),
        )
    }

    // --- CloudWatch Logs ---------------------------------------------------------------------------------

    async fn log_group(&self, c: &RegionClients, d: &DesiredResource, action: Action) -> Result<(), Error> {
        let name = d.name.as_str();
        let tags: HashMap<String, String> = self.tags().into_iter().collect();
        if action == Action::Create {
            exists_ok(
                c.logs
                    .create_log_group()
                    .log_group_name(name)
                    .set_tags(Some(tags.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("logs:CreateLogGroup", name, e)),
            )?;
        } else if matches!(d.kind, Kind::FirehoseLogGroup | Kind::FunctionLogGroup) {
            let arn = format!(
                "arn:{}:logs:{}:{}:log-group:{name}",
                eksaudit_spec::partition(&c.region),
                c.region,
                self.account
            );
            c.logs
                .tag_resource()
                .resource_arn(&arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| Error::call("logs:TagResource", name, e))?;
        }
        if let Some(days) = d.fields.get("retention_days").and_then(|f| f.value.as_i64()) {
            c.logs
                .put_retention_policy()
                .log_group_name(name)
                .retention_in_days(days as i32)
                .send()
                .await
                .map_err(|e| Error::call("logs:PutRetentionPolicy", name, e))?;
        }
        if d.kind == Kind::FirehoseLogGroup {
            exists_ok(
                c.logs
                    .create_log_stream()
                    .log_group_name(name)
                    .log_stream_name(eksaudit_plan::desired::FIREHOSE_ERROR_LOG_STREAM)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("logs:CreateLogStream", name, e)),
            )?;
        }
        Ok(())
    }

    async fn put_filter(&self, c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
        let group = text(field(d, "log_group"));
        retry(self.budgets.filter_test_message, test_message_not_delivered, || async {
            c.logs
                .put_subscription_filter()
                .log_group_name(&group)
                .filter_name(&d.name)
                .filter_pattern(text(field(d, "filter_pattern")))
                .destination_arn(text(field(d, "destination_arn")))
                // A Lambda destination takes no role.
                .set_role_arn(Some(text(field(d, "role_arn"))).filter(|r| !r.is_empty()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::call("logs:PutSubscriptionFilter", &group, e))
        })
        .await
    }

    // --- Firehose ----------------------------------------------------------------------------------------

    fn destination(d: &DesiredResource) -> Result<fh::ExtendedS3DestinationConfiguration, Error> {
        let logging = field(d, "error_logging");
        fh::ExtendedS3DestinationConfiguration::builder()
            .role_arn(text(field(d, "role_arn")))
            .bucket_arn(text(field(d, "bucket_arn")))
            .prefix(text(field(d, "prefix")))
            .error_output_prefix(text(field(d, "error_output_prefix")))
            .buffering_hints(
                fh::BufferingHints::builder()
                    .size_in_mbs(field(d, "buffer_size_mb").as_i64().unwrap_or(5) as i32)
                    .interval_in_seconds(field(d, "buffer_interval_seconds").as_i64().unwrap_or(300) as i32)
                    .build(),
            )
            .compression_format(fh::CompressionFormat::from(text(field(d, "compression")).as_str()))
            .cloud_watch_logging_options(
                fh::CloudWatchLoggingOptions::builder()
                    .enabled(logging.get("enabled").and_then(Value::as_bool).unwrap_or(true))
                    .log_group_name(logging.get("log_group").map(text).unwrap_or_default())
                    .log_stream_name(logging.get("log_stream").map(text).unwrap_or_default())
                    .build(),
            )
            .build()
            .map_err(build_error)
    }

    /// Encryption at rest with a key Firehose owns, when the stream wants it.
    fn stream_encryption(d: &DesiredResource) -> Result<Option<fh::DeliveryStreamEncryptionConfigurationInput>, Error> {
        if field(d, "encryption") != eksaudit_plan::desired::STREAM_ENCRYPTION_ENABLED {
            return Ok(None);
        }
        fh::DeliveryStreamEncryptionConfigurationInput::builder()
            .key_type(fh::KeyType::AwsOwnedCmk)
            .build()
            .map(Some)
            .map_err(build_error)
    }

    async fn create_stream(&self, c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let destination = Self::destination(d)?;
            let tags: Result<Vec<fh::Tag>, _> =
                self.tags().into_iter().map(|(k, v)| fh::Tag::builder().key(k).value(v).build()).collect();
            let tags = tags.map_err(build_error)?;
            let created = retry(self.budgets.iam_propagation, iam_not_propagated, || async {
                c.firehose
                    .create_delivery_stream()
                    .delivery_stream_name(&d.name)
                    .delivery_stream_type(fh::DeliveryStreamType::DirectPut)
                    .extended_s3_destination_configuration(destination.clone())
                    .set_delivery_stream_encryption_configuration_input(Self::stream_encryption(d)?)
                    .set_tags(Some(tags.clone()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("firehose:CreateDeliveryStream", &d.name, e))
            })
            .await;
            exists_ok(created)?;
            self.progress.waiting(&d.address, "the Firehose stream to become ACTIVE");
            match self.wait_stream_active(c, &d.name).await {
                Ok(()) => return Ok(()),
                Err(Error::Failed { what }) if attempts < 2 => {
                    tracing::warn!(stream = %d.name, "{what}; deleting and creating it again");
                    self.delete_stream(c, &d.name, &d.address).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn wait_stream_active(&self, c: &RegionClients, name: &str) -> Result<(), Error> {
        wait_for(self.budgets.stream_active, &format!("Firehose stream {name} to become ACTIVE"), || async {
            let out = c
                .firehose
                .describe_delivery_stream()
                .delivery_stream_name(name)
                .send()
                .await
                .map_err(|e| Error::call("firehose:DescribeDeliveryStream", name, e))?;
            let Some(desc) = out.delivery_stream_description() else { return Ok(None) };
            match desc.delivery_stream_status().as_str() {
                "ACTIVE" => Ok(Some(())),
                "CREATING_FAILED" => {
                    let why = desc
                        .failure_description()
                        .map(|f| format!("{}: {}", f.r#type().as_str(), f.details()))
                        .unwrap_or_default();
                    Err(Error::Failed { what: format!("Firehose stream {name} failed to create ({why})") })
                }
                _ => Ok(None),
            }
        })
        .await
    }

    async fn update_stream(&self, c: &RegionClients, d: &DesiredResource, fields: &[String]) -> Result<(), Error> {
        let name = d.name.as_str();
        if fields.iter().any(|f| f == "encryption") {
            if let Some(input) = Self::stream_encryption(d)? {
                c.firehose
                    .start_delivery_stream_encryption()
                    .delivery_stream_name(name)
                    .delivery_stream_encryption_configuration_input(input)
                    .send()
                    .await
                    .map_err(|e| Error::call("firehose:StartDeliveryStreamEncryption", name, e))?;
            }
        }
        if fields.iter().any(|f| f != "tags" && f != "encryption") {
            let out = c
                .firehose
                .describe_delivery_stream()
                .delivery_stream_name(name)
                .send()
                .await
                .map_err(|e| Error::call("firehose:DescribeDeliveryStream", name, e))?;
            let desc = out
                .delivery_stream_description()
                .ok_or_else(|| Error::Failed { what: format!("Firehose stream {name} has no description") })?;
            let destination_id = desc
                .destinations()
                .first()
                .map(|x| x.destination_id().to_string())
                .unwrap_or_else(|| "destinationId-000000000001".into());
            let full = Self::destination(d)?;
            let update = fh::ExtendedS3DestinationUpdate::builder()
                .set_role_arn(Some(full.role_arn().to_string()))
                .set_bucket_arn(Some(full.bucket_arn().to_string()))
                .set_prefix(full.prefix().map(str::to_string))
                .set_error_output_prefix(full.error_output_prefix().map(str::to_string))
                .set_buffering_hints(full.buffering_hints().cloned())
                .set_compression_format(full.compression_format().cloned())
                .set_cloud_watch_logging_options(full.cloud_watch_logging_options().cloned())
                .build();
            c.firehose
                .update_destination()
                .delivery_stream_name(name)
                .current_delivery_stream_version_id(desc.version_id())
                .destination_id(destination_id)
                .extended_s3_destination_update(update)
                .send()
                .await
                .map_err(|e| Error::call("firehose:UpdateDestination", name, e))?;
        }
        let tags: Result<Vec<fh::Tag>, _> =
            self.tags().into_iter().map(|(k, v)| fh::Tag::builder().key(k).value(v).build()).collect();
        c.firehose
            .tag_delivery_stream()
            .delivery_stream_name(name)
            .set_tags(Some(tags.map_err(build_error)?))
            .send()
            .await
            .map_err(|e| Error::call("firehose:TagDeliveryStream", name, e))?;
        Ok(())
    }

    async fn delete_stream(&self, c: &RegionClients, name: &str, address: &str) -> Result<(), Error> {
        // Delete is refused while the stream is CREATING: wait that out first.
        let deleted = retry(
            self.budgets.stream_active,
            |e| is_code(e, &["ResourceInUseException"]),
            || async {
                gone_ok(
                    c.firehose
                        .delete_delivery_stream()
                        .delivery_stream_name(name)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| Error::call("firehose:DeleteDeliveryStream", name, e)),
                )
            },
        )
        .await;
        deleted?;
        self.progress.waiting(address, "the Firehose stream to be deleted");
        wait_for(self.budgets.stream_active, &format!("Firehose stream {name} to be deleted"), || async {
            match c.firehose.describe_delivery_stream().delivery_stream_name(name).send().await {
                Ok(_) => Ok(None),
                Err(e) => {
                    let e = Error::call("firehose:DescribeDeliveryStream", name, e);
                    if e.kind() == crate::ErrorKind::NotFound {
                        Ok(Some(()))
                    } else {
                        Err(e)
                    }
                }
            }
        })
        .await
    }

    // --- EKS ---------------------------------------------------------------------------------------------

    async fn enable_audit_logging(&self, c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
        use aws_sdk_eks::types::{LogSetup, LogType, Logging, UpdateStatus};
        let name = d.name.as_str();
        let logging =
            Logging::builder().cluster_logging(LogSetup::builder().types(LogType::Audit).enabled(true).build()).build();
        let started = retry(
            self.budgets.cluster_update,
            |e| is_code(e, &["ResourceInUseException"]),
            || async {
                c.eks
                    .update_cluster_config()
                    .name(name)
                    .logging(logging.clone())
                    .send()
                    .await
                    .map_err(|e| Error::call("eks:UpdateClusterConfig", name, e))
            },
        )
        .await;
        let update_id = match started {
            Ok(out) => out.update().and_then(|u| u.id()).map(str::to_string),
            // EKS says so when audit logging is already on.
            Err(e)
                if is_code(&e, &["InvalidParameterException"])
                    && e.message().to_ascii_lowercase().contains("no changes") =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let Some(id) = update_id else {
            return Err(Error::Failed {
                what: format!("eks:UpdateClusterConfig on {name} returned no update id to wait on"),
            });
        };
        self.progress.waiting(&d.address, "EKS to turn audit logging on");
        wait_for(self.budgets.cluster_update, &format!("EKS update {id} on cluster {name}"), || async {
            let out = c
                .eks
                .describe_update()
                .name(name)
                .update_id(&id)
                .send()
                .await
                .map_err(|e| Error::call("eks:DescribeUpdate", name, e))?;
            match out.update().and_then(|u| u.status()) {
                Some(UpdateStatus::Successful) => Ok(Some(())),
                Some(UpdateStatus::Failed | UpdateStatus::Cancelled) => {
                    let errors: Vec<String> = out
                        .update()
                        .map(|u| u.errors().iter().map(|e| e.error_message().unwrap_or_default().to_string()).collect())
                        .unwrap_or_default();
                    Err(Error::Failed {
                        what: format!("EKS update {id} on cluster {name} failed: {}", errors.join("; ")),
                    })
                }
                _ => Ok(None),
            }
        })
        .await
    }
}

fn changed(change: &ResourceChange) -> Vec<String> {
    let mut fields: Vec<String> = change.changes.iter().map(|c| c.field.clone()).collect();
    // Adopting a resource means tagging it, even when nothing else differs.
    if change.reason.as_deref().is_some_and(|r| r.starts_with("adopt")) && !fields.iter().any(|f| f == "tags") {
        fields.push("tags".into());
    }
    fields
}

fn build_error(e: impl std::fmt::Display) -> Error {
    Error::Failed { what: format!("could not build an AWS request: {e}") }
}

async fn subscribe(c: &RegionClients, d: &DesiredResource) -> Result<(), Error> {
    let topic = text(field(d, "topic_arn"));
    c.sns
        .subscribe()
        .topic_arn(&topic)
        .protocol(text(field(d, "protocol")))
        .endpoint(text(field(d, "endpoint")))
        .send()
        .await
        .map_err(|e| Error::call("sns:Subscribe", &topic, e))?;
    Ok(())
}

async fn unsubscribe(c: &RegionClients, change: &ResourceChange) -> Result<(), Error> {
    let arn = change
        .changes
        .iter()
        .find(|f| f.field == "subscription_arn")
        .and_then(|f| f.old.as_ref())
        .map(text)
        .unwrap_or_default();
    if arn.is_empty() || arn == "PendingConfirmation" {
        return Ok(());
    }
    gone_ok(
        c.sns
            .unsubscribe()
            .subscription_arn(&arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::call("sns:Unsubscribe", &arn, e)),
    )
}

async fn queue_url(c: &RegionClients, name: &str) -> Result<String, Error> {
    let out =
        c.sqs.get_queue_url().queue_name(name).send().await.map_err(|e| Error::call("sqs:GetQueueUrl", name, e))?;
    out.queue_url.ok_or_else(|| Error::Failed { what: format!("sqs:GetQueueUrl gave no URL for queue {name}") })
}

async fn delete_queue(c: &RegionClients, name: &str) -> Result<(), Error> {
    let url = match queue_url(c, name).await {
        Ok(url) => url,
        Err(e) if e.kind() == crate::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    gone_ok(
        c.sqs
            .delete_queue()
            .queue_url(&url)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::call("sqs:DeleteQueue", name, e)),
    )
}

async fn delete_filter(c: &RegionClients, group: &str, name: &str) -> Result<(), Error> {
    gone_ok(
        c.logs
            .delete_subscription_filter()
            .log_group_name(group)
            .filter_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::call("logs:DeleteSubscriptionFilter", group, e)),
    )
}

/// Empties the bucket (every version, delete marker and unfinished upload, in batches of 1000) and deletes it.
async fn delete_bucket(c: &RegionClients, name: &str) -> Result<(), Error> {
    loop {
        let out = match c.s3.list_object_versions().bucket(name).send().await {
            Ok(out) => out,
            Err(e) => {
                let e = Error::call("s3:ListObjectVersions", name, e);
                return if e.kind() == crate::ErrorKind::NotFound { Ok(()) } else { Err(e) };
            }
        };
        let mut ids: Vec<s3t::ObjectIdentifier> = Vec::new();
        for v in out.versions() {
            ids.push(
                s3t::ObjectIdentifier::builder()
                    .key(v.key().unwrap_or_default())
                    .set_version_id(v.version_id().map(str::to_string))
                    .build()
                    .map_err(build_error)?,
            );
        }
        for m in out.delete_markers() {
            ids.push(
                s3t::ObjectIdentifier::builder()
                    .key(m.key().unwrap_or_default())
                    .set_version_id(m.version_id().map(str::to_string))
                    .build()
                    .map_err(build_error)?,
            );
        }
        if ids.is_empty() {
            break;
        }
        for batch in ids.chunks(1000) {
            let delete =
                s3t::Delete::builder().set_objects(Some(batch.to_vec())).quiet(true).build().map_err(build_error)?;
            let out =
                c.s3.delete_objects()
                    .bucket(name)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(|e| Error::call("s3:DeleteObjects", name, e))?;
            // S3 answers 200 with the keys it could not delete: listing again would find them forever.
            if let Some(e) = out.errors().first() {
                return Err(Error::Failed {
                    what: format!(
                        "s3:DeleteObjects on {name} could not delete {} object(s), e.g. {:?}: {} {}",
                        out.errors().len(),
                        e.key().unwrap_or_default(),
                        e.code().unwrap_or_default(),
                        e.message().unwrap_or_default()
                    ),
                });
            }
        }
    }
    let uploads =
        c.s3.list_multipart_uploads()
            .bucket(name)
            .send()
            .await
            .map_err(|e| Error::call("s3:ListMultipartUploads", name, e))?;
    for u in uploads.uploads() {
        if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
            gone_ok(
                c.s3.abort_multipart_upload()
                    .bucket(name)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| Error::call("s3:AbortMultipartUpload", name, e)),
            )?;
        }
    }
    gone_ok(
        c.s3.delete_bucket().bucket(name).send().await.map(|_| ()).map_err(|e| Error::call("s3:DeleteBucket", name, e)),
    )
}
