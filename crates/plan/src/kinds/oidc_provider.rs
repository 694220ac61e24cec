//! The IAM OIDC provider a web-identity reader (Sentinel) is trusted through: one per issuer in the account,
//! reused when it exists (our audience added if missing), never a second; deleted only when it carries our tag.

use std::collections::BTreeMap;

use eksaudit_spec::Address;
use serde_json::json;

use super::Registration;
use crate::document::resource;
use crate::model::{DesiredResource, Field, Kind};
use crate::names::Names;
use crate::operation::{op, op_also, Operation};

/// The address of the provider of one Azure cloud: `oidc_provider.commercial`.
pub fn address(cloud: &str) -> String {
    Address::oidc_provider(cloud).to_string()
}

pub fn desired(n: &Names<'_>) -> Option<DesiredResource> {
    let w = n.spec.consumer.web_identity()?;
    Some(resource(
        address(&w.cloud),
        Kind::OidcProvider,
        None,
        w.issuer.clone(),
        BTreeMap::from([
            ("url".into(), Field::exact(json!(format!("https://{}", w.issuer))).force_new()),
            ("client_ids".into(), Field::includes(json!([w.audience]))),
            ("thumbprints".into(), Field::create_only(json!([w.thumbprint]))),
            ("tags".into(), Field::tags(&n.spec.resource_tags())),
        ]),
    ))
}

pub const OPERATIONS: &[Operation] = &[
    op("iam", "GetOpenIDConnectProvider", "iam:GetOpenIDConnectProvider"),
    // Which roles trust the provider, before it is ever deleted.
    op("iam", "ListRoles", "iam:ListRoles"),
    // Tags on create need iam:TagOpenIDConnectProvider too.
    op_also("iam", "CreateOpenIDConnectProvider", "iam:CreateOpenIDConnectProvider", &["iam:TagOpenIDConnectProvider"]),
    op("iam", "AddClientIDToOpenIDConnectProvider", "iam:AddClientIDToOpenIDConnectProvider"),
    op("iam", "TagOpenIDConnectProvider", "iam:TagOpenIDConnectProvider"),
    op("iam", "DeleteOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider"),
];

pub const KIND: Registration = Registration { kind: Kind::OidcProvider, depends_on: &[], operations: OPERATIONS };
