//! SDK clients, built once from one loaded configuration and shared by every call.

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime::client::retries::{RetryPartition, TokenBucket};

use crate::calls::CallLogger;
use crate::pace::{Paced, PacedHttpClient, Pacer, DEFAULT_MAX_CONCURRENCY, GLOBAL};

/// A client of `$sdk` from `$builder`, with the call logger, pacing and the retry partition (see `Aws::extras`).
macro_rules! client {
    ($aws:expr, $sdk:ident, $region:expr, $service:literal, $builder:expr) => {{
        let (paced, partition) = $aws.extras($region, $service);
        let mut builder = $builder.interceptor(CallLogger).retry_partition(partition);
        if let Some(paced) = paced {
            builder = builder.interceptor(paced);
        }
        if $aws.sets_attempts() {
            builder = builder.interceptor($crate::retry::ConnectAttempts);
        }
        $sdk::Client::from_conf(builder.build())
    }};
}

/// The HTTPS client the SDK builds by default (hyper 1 with rustls on aws-lc, proxies from the environment),
/// built here so pacing can wrap it.
pub(crate) fn default_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::proxy::ProxyConfig;
    use aws_smithy_http_client::{tls, Builder, ConnectorBuilder};
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// How to reach AWS: the CLI's `--endpoint-url` and `--profile`, resolved.
#[derive(Debug, Clone, Default)]
pub struct ConnectionSettings {
    /// Points every client at one endpoint (a local emulator). The SDK's own `AWS_ENDPOINT_URL*` variables work
    /// too, through the standard configuration loader.
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
    /// S3 by path (`endpoint/bucket/key`) instead of by virtual host (`bucket.endpoint/key`): what an endpoint
    /// without wildcard DNS needs (a local emulator, some S3-compatible stores, a proxy). Asked for explicitly,
    /// never inferred from the endpoint: AWS itself is reached by virtual host, as the SDK does by default.
    pub s3_path_style: bool,
    /// Calls in flight at once (`--max-concurrency`), for accounts with raised quotas; the default is
    /// `pace::DEFAULT_MAX_CONCURRENCY`. The rate of each operation stays paced by the quota table.
    pub max_concurrency: Option<usize>,
    /// Where a run that AWS slows says so ("throttled by CloudWatch Logs in eu-west-1, waiting", at most every
    /// few seconds per service and region); `None`: only in the `-v` log.
    pub notice: Option<crate::pace::Notice>,
}

/// Account-wide clients and the shared configuration regional clients are built from.
#[derive(Clone, Debug)]
pub struct Aws {
    base: SdkConfig,
    /// S3 by path instead of by virtual host (see [`ConnectionSettings::s3_path_style`]).
    s3_path_style: bool,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
    /// Paces every call by the quota table; `None` for the clients tests set up with (not paced).
    pacer: Option<Arc<Pacer>>,
    /// The HTTP client under the pacer, from which a member account's clients get their own (quotas are per
    /// account); `None` when not paced.
    unpaced_http: Option<aws_smithy_runtime_api::client::http::SharedHttpClient>,
    max_concurrency: usize,
}

/// The clients of one region.
#[derive(Clone, Debug)]
pub struct RegionClients {
    pub region: String,
    pub eks: aws_sdk_eks::Client,
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub firehose: aws_sdk_firehose::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub kms: aws_sdk_kms::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The Resource Groups Tagging API, named by its IAM prefix (`tag:`), signing as `tagging`.
    pub tag: aws_sdk_resourcegroupstagging::Client,
    /// The region's key ARNs by alias, looked up once for the whole run (`kms_key::arn_of`).
    pub(crate) key_arns: crate::kinds::kms_key::KeyArns,
}

/// The SDK's attempts per call where the user sets none (`AWS_MAX_ATTEMPTS`), throttled attempts aside.
pub(crate) const SDK_ATTEMPTS: u32 = 8;

impl Aws {
    /// Loads credentials and settings the standard way (environment, profile, SSO, IMDS...). IAM and STS are
    /// global; they are called through `home_region` (the first region of the spec) when no region is configured.
    pub async fn connect(settings: &ConnectionSettings, home_region: &str) -> Aws {
        // More attempts than the SDK's default 3: a large account throttles plan's concurrent reads, and a
        // throttled-out read is a resource that cannot be checked.
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        // The user's AWS_MAX_ATTEMPTS / AWS_RETRY_MODE win, as everywhere in the SDK (throttling included).
        let sdk_default_retry =
            std::env::var_os("AWS_MAX_ATTEMPTS").is_none() && std::env::var_os("AWS_RETRY_MODE").is_none();
        if sdk_default_retry {
            loader = loader.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(SDK_ATTEMPTS));
        }
        // A paced request waits for its token after the SDK made its body, which the upload half of stalled-stream
        // protection would take for a stalled upload (eksaudit uploads nothing large; downloads stay protected).
        loader = loader.stalled_stream_protection(
            aws_smithy_runtime_api::client::stalled_stream_protection::StalledStreamProtectionConfig::enabled()
                .upload_enabled(false)
                .build(),
        );
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        let base = loader.load().await;
        let base = if base.region().is_none() {
            base.into_builder().region(Region::new(home_region.to_string())).build()
        } else {
            base
        };
        let max_concurrency = settings.max_concurrency.unwrap_or(DEFAULT_MAX_CONCURRENCY).max(1);
        let pacer = Arc::new(Pacer::new(max_concurrency, sdk_default_retry).with_notice(settings.notice));
        let inner = base.http_client().unwrap_or_else(default_https_client);
        let base = base
            .into_builder()
            .http_client(PacedHttpClient { inner: inner.clone(), pacer: Arc::clone(&pacer) })
            .build();
        let mut aws = Aws::build(base, settings.s3_path_style, Some(pacer), max_concurrency);
        aws.unpaced_http = Some(inner);
        aws
    }

    /// The same clients with other credentials (a member account's role): paced apart, since AWS's request-rate
    /// quotas are per account, and bounded by the same `--max-concurrency`.
    pub fn with_credentials(
        &self,
        account: &str,
        credentials: aws_credential_types::provider::SharedCredentialsProvider,
    ) -> Aws {
        let builder = self.base.to_builder().credentials_provider(credentials);
        match (&self.pacer, &self.unpaced_http) {
            (Some(caller), Some(inner)) => {
                let pacer = Pacer::new(self.max_concurrency, caller.retries_throttling());
                let pacer = Arc::new(pacer.with_notice(caller.notice()).for_account(account));
                let base =
                    builder.http_client(PacedHttpClient { inner: inner.clone(), pacer: Arc::clone(&pacer) }).build();
                let mut aws = Aws::build(base, self.s3_path_style, Some(pacer), self.max_concurrency);
                aws.unpaced_http = Some(inner.clone());
                aws
            }
            _ => Aws::build(builder.build(), self.s3_path_style, self.pacer.clone(), self.max_concurrency),
        }
    }

    /// AWS Organizations (a global service), built when `[accounts]` needs it.
    pub fn organizations(&self) -> aws_sdk_organizations::Client {
        client!(
            self,
            aws_sdk_organizations,
            GLOBAL,
            "organizations",
            aws_sdk_organizations::config::Builder::from(&self.base)
        )
    }

    /// Whether eksaudit sets the SDK's attempts (not the user, through `AWS_MAX_ATTEMPTS` or `AWS_RETRY_MODE`):
    /// then throttling is retried past them (`pace.rs`) and a call that cannot connect gives up sooner
    /// (`retry::ConnectAttempts`).
    fn sets_attempts(&self) -> bool {
        self.pacer.as_ref().is_some_and(|p| p.retries_throttling())
    }

    /// Calls in flight at once.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    /// Read tasks under way at once. Paced, a task waiting for its bucket's token holds none of the
    /// `--max-concurrency` slots (the HTTP client takes one after the token), so many more tasks than slots may be
    /// under way: otherwise the slots fill with the reads of one region's slowest bucket (5 a second for
    /// CloudWatch Logs) while the other regions' quotas go unused. Unpaced (clients tests build), the slots.
    pub fn read_concurrency(&self) -> usize {
        self.task_concurrency(self.max_concurrency)
    }

    /// Independent tasks (reads, apply's clusters) under way at once: paced, many more than the slots, for the
    /// reason above; unpaced, `unpaced`.
    pub fn task_concurrency(&self, unpaced: usize) -> usize {
        if self.pacer.is_some() {
            self.max_concurrency.saturating_mul(64)
        } else {
            unpaced
        }
    }

    /// Clients from an already built configuration (tests build one with static credentials).
    pub fn from_config(base: SdkConfig, s3_path_style: bool) -> Aws {
        Aws::build(base, s3_path_style, None, DEFAULT_MAX_CONCURRENCY)
    }

    fn build(base: SdkConfig, s3_path_style: bool, pacer: Option<Arc<Pacer>>, max_concurrency: usize) -> Aws {
        let iam_builder = aws_sdk_iam::config::Builder::from(&base);
        let sts_builder = aws_sdk_sts::config::Builder::from(&base);
        let mut aws = Aws {
            iam: aws_sdk_iam::Client::from_conf(iam_builder.clone().build()),
            sts: aws_sdk_sts::Client::from_conf(sts_builder.clone().build()),
            base,
            s3_path_style,
            pacer,
            unpaced_http: None,
            max_concurrency,
        };
        // IAM's quotas are global (it is called through one region).
        aws.iam = client!(aws, aws_sdk_iam, GLOBAL, "iam", iam_builder);
        aws.sts = client!(aws, aws_sdk_sts, GLOBAL, "sts", sts_builder);
        aws
    }

    /// The interceptors and retry partition every client gets: the call logger, and pacing (when on) by
    /// `region` and the service's signing name.
    fn extras(&self, region: &str, service: &'static str) -> (Option<Paced>, RetryPartition) {
        let paced = self.pacer.as_ref().map(|p| Paced { pacer: Arc::clone(p), region: region.to_string(), service });
        // No retry quota: the standard strategy's shared token bucket stops retrying once many calls were
        // throttled, which pacing makes the normal way to wait rather than a sign of an outage.
        let partition = RetryPartition::custom(format!("eksaudit-{service}-{region}"))
            .token_bucket(TokenBucket::unlimited())
            .build();
        (paced, partition)
    }

    pub fn iam(&self) -> &aws_sdk_iam::Client {
        &self.iam
    }

    pub fn sts(&self) -> &aws_sdk_sts::Client {
        &self.sts
    }

    /// Clients for one region, sharing the loaded credentials and HTTP client.
    pub fn region(&self, name: &str) -> RegionClients {
        let config = self.base.to_builder().region(Region::new(name.to_string())).build();
        let s3_config = aws_sdk_s3::config::Builder::from(&config).force_path_style(self.s3_path_style);
        RegionClients {
            region: name.to_string(),
            eks: client!(self, aws_sdk_eks, name, "eks", aws_sdk_eks::config::Builder::from(&config)),
            s3: client!(self, aws_sdk_s3, name, "s3", s3_config),
            sns: client!(self, aws_sdk_sns, name, "sns", aws_sdk_sns::config::Builder::from(&config)),
            firehose: client!(
                self,
                aws_sdk_firehose,
                name,
                "firehose",
                aws_sdk_firehose::config::Builder::from(&config)
            ),
            logs: client!(
                self,
                aws_sdk_cloudwatchlogs,
                name,
                "logs",
                aws_sdk_cloudwatchlogs::config::Builder::from(&config)
            ),
            sqs: client!(self, aws_sdk_sqs, name, "sqs", aws_sdk_sqs::config::Builder::from(&config)),
            kms: client!(self, aws_sdk_kms, name, "kms", aws_sdk_kms::config::Builder::from(&config)),
            lambda: client!(self, aws_sdk_lambda, name, "lambda", aws_sdk_lambda::config::Builder::from(&config)),
            cloudwatch: client!(
                self,
                aws_sdk_cloudwatch,
                name,
                "monitoring",
                aws_sdk_cloudwatch::config::Builder::from(&config)
            ),
            tag: client!(
                self,
                aws_sdk_resourcegroupstagging,
                name,
                "tagging",
                aws_sdk_resourcegroupstagging::config::Builder::from(&config)
            ),
            key_arns: Default::default(),
        }
    }
}
