//! The local AWS harness, exercised through the product's own AWS edge and binary.

use eksaudit_test_support::{Moto, MOTO_ACCOUNT};

use crate::support::{Workdir, EXAMPLE};

#[tokio::test]
async fn harness_gives_each_test_a_fresh_account() {
    let moto = Moto::start();
    let aws = moto.aws();
    let id = aws.identity().await.expect("identity from moto");
    assert_eq!(id.account, MOTO_ACCOUNT);
    let eu = moto.region("eu-central-1");
    assert!(eu.list_clusters().await.unwrap().is_empty(), "a fresh moto has no cluster");
    moto.create_cluster("eu-central-1", "prod-1", true).await;
    moto.create_cluster("eu-central-1", "stage-a", false).await;
    moto.create_cluster("us-east-1", "other", false).await;
    assert_eq!(eu.list_clusters().await.unwrap(), ["prod-1", "stage-a"]);
    assert_eq!(moto.region("us-east-1").list_clusters().await.unwrap(), ["other"]);
}

#[test]
fn account_guard_refuses_other_accounts() {
    let moto = Moto::start();
    let spec = EXAMPLE.replacen("# account_id = \"123456789012\"", "account_id = \"999999999999\"", 1);
    let w = Workdir::with_spec(&spec);
    let run = w.run(Some(&moto.endpoint()), &["plan"]);
    run.assert_no_panic();
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    assert!(err.contains("account 123456789012") && err.contains("999999999999"), "{err}");
}

#[tokio::test]
async fn the_emulated_add_client_id_refuses_a_provider_that_does_not_exist_as_iam_does() {
    let moto = Moto::start();
    let iam = aws_sdk_iam::Client::new(&moto.proxy_config("us-east-1"));
    let arn = format!("arn:aws:iam::{MOTO_ACCOUNT}:oidc-provider/sts.windows.net/tenant/");
    let err = iam
        .add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("api://audience")
        .send()
        .await
        .expect_err("no such provider");
    assert_eq!(err.as_service_error().and_then(|e| e.meta().code()), Some("NoSuchEntity"), "{err:?}");

    // Once the provider exists, the audience is added and shown.
    moto.aws()
        .iam()
        .create_open_id_connect_provider()
        .url("https://sts.windows.net/tenant/")
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("626d44e704d1ceabe3bf0d53397464ac8080142c")
        .send()
        .await
        .unwrap();
    iam.add_client_id_to_open_id_connect_provider()
        .open_id_connect_provider_arn(&arn)
        .client_id("api://audience")
        .send()
        .await
        .unwrap();
    let got = iam.get_open_id_connect_provider().open_id_connect_provider_arn(&arn).send().await.unwrap();
    assert_eq!(got.client_id_list(), ["sts.amazonaws.com", "api://audience"]);
}

#[tokio::test]
async fn a_filter_of_a_full_log_group_is_updated_in_place_as_cloudwatch_logs_does() {
    let moto = Moto::start();
    let direct = moto.region("us-east-1").logs;
    for group in ["/aws/eks/prod/cluster", "/destination"] {
        direct.create_log_group().log_group_name(group).send().await.unwrap();
    }
    let destination = format!("arn:aws:logs:us-east-1:{MOTO_ACCOUNT}:log-group:/destination:*");
    for name in ["ours", "theirs"] {
        direct
            .put_subscription_filter()
            .log_group_name("/aws/eks/prod/cluster")
            .filter_name(name)
            .filter_pattern("")
            .destination_arn(&destination)
            .send()
            .await
            .unwrap();
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.proxy_config("us-east-1"));
    // Readers all along: none may see the group with one filter, as none would in CloudWatch Logs.
    let reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let reader = {
        let (logs, reading) = (logs.clone(), std::sync::Arc::clone(&reading));
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while reading.load(std::sync::atomic::Ordering::Relaxed) {
                let out =
                    logs.describe_subscription_filters().log_group_name("/aws/eks/prod/cluster").send().await.unwrap();
                seen.push(out.subscription_filters().len());
            }
            seen
        })
    };
    for i in 0..20 {
        logs.put_subscription_filter()
            .log_group_name("/aws/eks/prod/cluster")
            .filter_name("ours")
            .filter_pattern(format!("{{ $.verb = \"v{i}\" }}"))
            .destination_arn(&destination)
            .send()
            .await
            .expect("an update in place of a full group's filter");
    }
    reading.store(false, std::sync::atomic::Ordering::Relaxed);
    let seen = reader.await.unwrap();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|n| *n == 2), "a reader saw the filter missing: {seen:?}");
    let out = direct.describe_subscription_filters().log_group_name("/aws/eks/prod/cluster").send().await.unwrap();
    let ours = out.subscription_filters().iter().find(|f| f.filter_name() == Some("ours")).unwrap();
    assert_eq!(ours.filter_pattern(), Some("{ $.verb = \"v19\" }"));
    assert_eq!(out.subscription_filters().len(), 2);
}

#[tokio::test]
async fn log_groups_are_described_by_name_as_cloudwatch_logs_does() {
    let moto = Moto::start();
    let direct = moto.region("us-east-1").logs;
    for group in ["/aws/eks/prod/cluster", "/aws/eks/prod/cluster-2", "/aws/eks/stage/cluster"] {
        direct.create_log_group().log_group_name(group).send().await.unwrap();
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&moto.proxy_config("us-east-1"));
    let out = logs
        .describe_log_groups()
        .log_group_identifiers("/aws/eks/stage/cluster")
        .log_group_identifiers("/aws/eks/missing/cluster")
        .log_group_identifiers("/aws/eks/prod/cluster")
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = out.log_groups().iter().filter_map(|g| g.log_group_name()).collect();
    assert_eq!(names, ["/aws/eks/prod/cluster", "/aws/eks/stage/cluster"], "exactly the names asked, sorted");
    let too_many = (0..51).map(|i| format!("/aws/eks/c{i}/cluster")).collect();
    let refused = logs.describe_log_groups().set_log_group_identifiers(Some(too_many)).send().await.unwrap_err();
    assert_eq!(refused.into_service_error().meta().code(), Some("InvalidParameterException"));
}
