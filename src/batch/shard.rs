//! Shards: `--shard K/N` keeps the rows whose key hashes to K of N (K from 0), so N machines
//! (a Kubernetes Indexed Job, a CI matrix) can split one rows file with no coordination. The hash
//! is FNV-1a, fixed forever, so every machine agrees.

/// A `--shard` that is not `K/N` with `0 <= K < N`.
#[derive(Debug, thiserror::Error)]
#[error("invalid shard `{0}`: write K/N with 0 <= K < N, such as `0/4`")]
pub(crate) struct InvalidShard(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub(crate) fn parse(text: &str) -> Result<Self, InvalidShard> {
        let invalid = || InvalidShard(text.to_owned());
        let (index, count) = text.split_once('/').ok_or_else(invalid)?;
        let index: u64 = index.trim().parse().map_err(|_| invalid())?;
        let count: u64 = count.trim().parse().map_err(|_| invalid())?;
        if count == 0 || index >= count {
            return Err(invalid());
        }
        Ok(Self { index, count })
    }

    pub(crate) fn includes(self, key: &str) -> bool {
        fnv1a(key.as_bytes()) % self.count == self.index
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_key_exactly_once() {
        let shards: Vec<Shard> = (0..4).map(|k| Shard::parse(&format!("{k}/4")).unwrap()).collect();
        for key in (0..1000).map(|n| n.to_string()) {
            assert_eq!(shards.iter().filter(|shard| shard.includes(&key)).count(), 1);
        }
        assert!(Shard::parse("4/4").is_err() && Shard::parse("1/0").is_err() && Shard::parse("x").is_err());
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
