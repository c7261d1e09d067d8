//! Text forms of addresses for log lines and tools: dotted IPv4 and RFC 5952
//! IPv6 (lower case, the longest run of two or more zero groups as `::`,
//! the first such run on a tie).

use core::fmt;

use super::esp::{Family, IpAddr};

impl fmt::Display for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.family {
            Family::V4 => {
                let [a, b, c, d, ..] = self.bytes;
                write!(f, "{a}.{b}.{c}.{d}")
            }
            Family::V6 => fmt_v6(&self.bytes, f),
        }
    }
}

fn fmt_v6(bytes: &[u8; 16], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    // `get` rather than indexing (no panic path in the source; `i < 8`, so
    // the compiler drops the fallback). The zip-over-chunks form left a panic
    // path that objtool flags ("falls through to next function") in the
    // module build.
    let byte = |n: usize| bytes.get(n).copied().unwrap_or(0);
    let groups: [u16; 8] =
        core::array::from_fn(|i| u16::from_be_bytes([byte(2 * i), byte(2 * i + 1)]));
    // Longest run of zero groups (length >= 2).
    let (mut best_start, mut best_len) = (8usize, 0usize);
    let mut i = 0;
    while i < 8 {
        if groups.get(i) == Some(&0) {
            let start = i;
            while groups.get(i) == Some(&0) {
                i += 1;
            }
            if i - start > best_len {
                best_start = start;
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_start = 8;
        best_len = 0;
    }
    let mut i = 0;
    while i < 8 {
        if i == best_start {
            f.write_str("::")?;
            i += best_len;
            continue;
        }
        if i != 0 && i != best_start + best_len {
            f.write_str(":")?;
        }
        write!(f, "{:x}", groups.get(i).copied().unwrap_or(0))?;
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: [u16; 8]) -> IpAddr {
        let mut b = [0u8; 16];
        for (i, g) in s.iter().enumerate() {
            b[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
        }
        IpAddr::v6(b)
    }

    #[test]
    fn ipv4_dotted() {
        assert_eq!(IpAddr::v4([192, 0, 2, 1]).to_string(), "192.0.2.1");
        assert_eq!(IpAddr::v4([0, 0, 0, 0]).to_string(), "0.0.0.0");
    }

    #[test]
    fn ipv6_rfc5952() {
        assert_eq!(
            v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]).to_string(),
            "2001:db8::1"
        );
        assert_eq!(v6([0; 8]).to_string(), "::");
        assert_eq!(v6([0, 0, 0, 0, 0, 0, 0, 1]).to_string(), "::1");
        assert_eq!(v6([1, 0, 0, 0, 0, 0, 0, 0]).to_string(), "1::");
        // A single zero group is not compressed.
        assert_eq!(
            v6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]).to_string(),
            "2001:db8:0:1:1:1:1:1"
        );
        // Longest run wins; on a tie the first.
        assert_eq!(v6([1, 0, 0, 1, 0, 0, 0, 1]).to_string(), "1:0:0:1::1");
        assert_eq!(v6([1, 0, 0, 1, 1, 0, 0, 1]).to_string(), "1::1:1:0:0:1");
        assert_eq!(
            v6([0xfe80, 0, 0, 0, 0xabcd, 0xef, 0x12, 0x3456]).to_string(),
            "fe80::abcd:ef:12:3456"
        );
    }

    #[test]
    fn ipv6_matches_std() {
        // Cross-check with std's formatter (also RFC 5952) on a spread of values.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut b = [0u8; 16];
            for byte in b.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Bias towards zeros so that runs are common.
                *byte = if x.is_multiple_of(3) {
                    0
                } else {
                    (x >> 8) as u8 & 0x0f
                };
            }
            let ours = IpAddr::v6(b).to_string();
            let std = std::net::Ipv6Addr::from(b);
            // std prints IPv4-mapped/compatible forms specially; skip those.
            if std.to_ipv4_mapped().is_some() || b[..12] == [0; 12] {
                continue;
            }
            assert_eq!(ours, std.to_string(), "{b:?}");
        }
    }
}
