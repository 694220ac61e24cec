//! `--shard K/N`: a stable split of the member accounts into N shards, so a scheduled check runs as N jobs of a
//! distributed engine (an Indexed Kubernetes Job, a GitHub Actions matrix) instead of one long one.

use std::fmt;
use std::str::FromStr;

/// Shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether `account` falls in this shard: FNV-1a of the account id, modulo the count. Stable across runs,
    /// machines and versions (no randomised hasher), and every account is in exactly one shard of N.
    pub fn contains(&self, account: &str) -> bool {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in account.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash % u64::from(self.count) == u64::from(self.index - 1)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let hint =
            "write it as K/N with 1 <= K <= N, e.g. --shard 2/5 (in an Indexed Job: $((JOB_COMPLETION_INDEX + 1))/N)";
        let (k, n) = text.split_once('/').ok_or_else(|| format!("{text:?} is not a shard: {hint}"))?;
        let parse = |s: &str| s.trim().parse::<u32>().map_err(|_| format!("{text:?} is not a shard: {hint}"));
        let (index, count) = (parse(k)?, parse(n)?);
        if count == 0 || index == 0 || index > count {
            return Err(format!("{text:?} is not a shard: {hint}"));
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash is FNV-1a 64 as published (offset basis 0xcbf29ce484222325, prime 0x100000001b3): its known value
    /// for "a", and account ids pinned to their shard, so a run on another version splits accounts the same way.
    #[test]
    fn the_split_is_fnv_1a_and_stays_put() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c, which is 5 modulo 7: shard 6 of 7.
        assert!(Shard { index: 6, count: 7 }.contains("a"));
        let shard_of = |account: &str, count: u32| (1..=count).find(|&i| Shard { index: i, count }.contains(account));
        let pinned: Vec<Option<u32>> =
            ["123456789012", "210987654321", "434813966438"].iter().map(|a| shard_of(a, 4)).collect();
        // Computed apart from this code (a few lines of Python after the published algorithm).
        assert_eq!(pinned, [Some(4), Some(4), Some(3)]);
    }

    #[test]
    fn every_account_is_in_exactly_one_shard() {
        let accounts: Vec<String> = (0..500u64).map(|i| format!("{:012}", 100_000_000_000 + i * 7919)).collect();
        for count in [1, 2, 3, 7] {
            let shards: Vec<Shard> = (1..=count).map(|index| Shard { index, count }).collect();
            for a in &accounts {
                assert_eq!(shards.iter().filter(|s| s.contains(a)).count(), 1, "{a} in {count} shards");
            }
            // And the split is even enough to be worth it.
            for s in &shards {
                let n = accounts.iter().filter(|a| s.contains(a)).count();
                assert!(n * count as usize * 2 > accounts.len(), "shard {s} holds {n} of {}", accounts.len());
            }
        }
    }

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!("2/5".parse::<Shard>(), Ok(Shard { index: 2, count: 5 }));
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", "-1/3", ""] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.contains("K/N"), "{bad}: {err}");
        }
    }
}
