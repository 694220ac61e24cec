//! SDK clients, built once from one loaded configuration and shared by every call.

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::calls::CallLogger;

/// How to reach AWS: the CLI's `--endpoint-url` and `--profile`, resolved.
#[derive(Debug, Clone, Default)]
pub struct ConnectionSettings {
    /// Points every client at one endpoint (a local emulator). The SDK's own `AWS_ENDPOINT_URL*` variables work
    /// too, through the standard configuration loader.
    pub endpoint_url: Option<String>,
    pub profile: Option<String>,
}

/// Account-wide clients and the shared configuration regional clients are built from.
#[derive(Clone, Debug)]
pub struct Aws {
    base: SdkConfig,
    /// Set when talking to an emulator: S3 then needs path-style addressing.
    custom_endpoint: bool,
    iam: aws_sdk_iam::Client,
    sts: aws_sdk_sts::Client,
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
}

impl Aws {
    /// Loads credentials and settings the standard way (environment, profile, SSO, IMDS...). IAM and STS are
    /// global; they are called through `home_region` (the first region of the spec) when no region is configured.
    pub async fn connect(settings: &ConnectionSettings, home_region: &str) -> Aws {
        // More attempts than the SDK's default 3: a large account throttles plan's concurrent reads, and a
        // throttled-out read is a resource that cannot be checked.
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        // The user's AWS_MAX_ATTEMPTS / AWS_RETRY_MODE win, as everywhere in the SDK.
        if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() && std::env::var_os("AWS_RETRY_MODE").is_none() {
            loader = loader.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(8));
        }
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
        let custom_endpoint = settings.endpoint_url.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        Aws::from_config(base, custom_endpoint)
    }

    /// Clients from an already built configuration (tests build one with static credentials).
    pub fn from_config(base: SdkConfig, custom_endpoint: bool) -> Aws {
        Aws {
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&base).interceptor(CallLogger).build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&base).interceptor(CallLogger).build(),
            ),
            base,
            custom_endpoint,
        }
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
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(self.custom_endpoint)
            .interceptor(CallLogger)
            .build();
        RegionClients {
            region: name.to_string(),
            eks: aws_sdk_eks::Client::from_conf(
                aws_sdk_eks::config::Builder::from(&config).interceptor(CallLogger).build(),
            ),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sns: aws_sdk_sns::Client::from_conf(
                aws_sdk_sns::config::Builder::from(&config).interceptor(CallLogger).build(),
            ),
            firehose: aws_sdk_firehose::Client::from_conf(
                aws_sdk_firehose::config::Builder::from(&config).interceptor(CallLogger).build(),
            ),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(
                aws_sdk_cloudwatchlogs::config::Builder::from(&config).interceptor(CallLogger).build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(&config).interceptor(CallLogger).build(),
            ),
            kms: aws_sdk_kms::Client::from_conf(
                aws_sdk_kms::config::Builder::from(&config).interceptor(CallLogger).build(),
            ),
            lambda: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(&config).interceptor(CallLogger).build(),
            ),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(
                aws_sdk_cloudwatch::config::Builder::from(&config).interceptor(CallLogger).build(),
            ),
        }
    }
}
