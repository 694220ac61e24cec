//! A matched cluster's audit logging (an EKS cluster setting): turned on by eksaudit with
//! `enable_audit_logging`, else only checked, with the fix named.

use std::collections::BTreeMap;

use eksaudit_spec::{Address, ClusterSlot, Region};
use serde_json::json;

use super::Registration;
use crate::model::{DesiredResource, Field, Kind, Management};
use crate::operation::{op, Operation};

/// `index`: the region's position in the spec, for the fix's words.
pub fn desired(region: &Region, index: usize, cluster: &str) -> DesiredResource {
    let management = if region.enable_audit_logging {
        Management::Owned
    } else {
        Management::CheckOnly {
            fix: format!(
                "set enable_audit_logging = true in region[{index}] to let eksaudit turn it on, or turn it on yourself"
            ),
        }
    };
    DesiredResource {
        address: Address::cluster(&region.name, cluster, ClusterSlot::AuditLogging).to_string(),
        kind: Kind::ClusterLogging,
        region: Some(region.name.clone()),
        name: cluster.to_string(),
        management,
        fields: BTreeMap::from([("audit".to_string(), Field::exact(json!(true)))]),
    }
}

pub const OPERATIONS: &[Operation] = &[
    op("eks", "DescribeCluster", "eks:DescribeCluster"),
    op("eks", "UpdateClusterConfig", "eks:UpdateClusterConfig"),
    op("eks", "DescribeUpdate", "eks:DescribeUpdate"),
];

pub const KIND: Registration = Registration { kind: Kind::ClusterLogging, depends_on: &[], operations: OPERATIONS };
