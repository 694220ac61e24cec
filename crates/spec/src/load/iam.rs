//! Loading `[iam]`: roles of the user's own, reused instead of created.

use toml::de::DeTable;

use super::{join, Ctx};
use crate::model::*;
use crate::rules;

impl Ctx<'_> {
    pub(super) fn iam(&mut self, t: &DeTable<'_>) -> Option<Iam> {
        self.check_keys(t, "iam", &["firehose_role_arn", "cloudwatch_role_arn", "reader_role_arn"]);
        let mut ok = true;
        let mut arn = |ctx: &mut Self, key: &str| {
            let v =
                ctx.string(t, "iam", key, &format!("{key} = \"arn:aws:iam::123456789012:role/eks-audit-firehose\""));
            if let Some((a, s)) = &v {
                ok &= ctx.check(&join("iam", key), s, rules::role_arn(a));
            }
            v.map(|(a, _)| a)
        };
        let iam = Iam {
            firehose_role_arn: arn(self, "firehose_role_arn"),
            cloudwatch_role_arn: arn(self, "cloudwatch_role_arn"),
            reader_role_arn: arn(self, "reader_role_arn"),
        };
        ok.then_some(iam)
    }
}
