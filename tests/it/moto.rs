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
