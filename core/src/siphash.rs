//! SipHash-2-4 with a 128-bit secret key.
//!
//! Used to spread rate-limiter flows over the flow table so that an attacker who does not
//! know the key cannot aim many flows at the same bucket.  The kernel feeds the key from
//! `get_random_bytes()` once; hosts tests use fixed keys.
//!
//! The implementation follows the algorithm description in Aumasson and Bernstein,
//! "SipHash: a fast short-input PRF" (2012): two compression rounds per 8-byte word and four
//! finalisation rounds.  All arithmetic is explicitly wrapping.

/// A 128-bit SipHash key, as two little-endian 64-bit halves.
///
/// Plain data; `Copy` and freely shareable between threads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SipKey {
    k0: u64,
    k1: u64,
}

impl core::fmt::Debug for SipKey {
    // Never print key material.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SipKey(..)")
    }
}

impl SipKey {
    /// Builds a key from 16 bytes, interpreted as in the reference implementation
    /// (`k0` = little-endian bytes 0..8, `k1` = bytes 8..16).
    pub const fn from_bytes(b: [u8; 16]) -> Self {
        SipKey {
            k0: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            k1: u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]),
        }
    }
}

/// The four-word SipHash state.
struct State {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl State {
    fn new(key: &SipKey) -> Self {
        // The constants spell "somepseudorandomlygeneratedbytes" in ASCII.
        State {
            v0: key.k0 ^ 0x736f_6d65_7073_6575,
            v1: key.k1 ^ 0x646f_7261_6e64_6f6d,
            v2: key.k0 ^ 0x6c79_6765_6e65_7261,
            v3: key.k1 ^ 0x7465_6462_7974_6573,
        }
    }

    #[inline(always)]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.round();
        self.v0 ^= m;
    }
}

/// Computes SipHash-2-4 of `data` under `key`.
pub fn siphash24(key: &SipKey, data: &[u8]) -> u64 {
    let mut s = State::new(key);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        s.compress(u64::from_le_bytes(b));
    }
    // Last word: the remaining 0..=7 bytes, zero padded, with the message length (mod 256)
    // in the top byte.
    let rest = words.remainder();
    let mut b = [0u8; 8];
    for (dst, src) in b.iter_mut().zip(rest) {
        *dst = *src;
    }
    b[7] = data.len() as u8; // truncation intended: length mod 256
    s.compress(u64::from_le_bytes(b));

    s.v2 ^= 0xff;
    s.round();
    s.round();
    s.round();
    s.round();
    s.v0 ^ s.v1 ^ s.v2 ^ s.v3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper_key() -> SipKey {
        let mut k = [0u8; 16];
        for (i, b) in k.iter_mut().enumerate() {
            *b = i as u8;
        }
        SipKey::from_bytes(k)
    }

    fn msg(len: usize) -> Vec<u8> {
        (0..len).map(|i| i as u8).collect()
    }

    #[test]
    fn paper_vector() {
        // Appendix A of the SipHash paper: key 00..0f, message 00..0e.
        assert_eq!(siphash24(&paper_key(), &msg(15)), 0xa129_ca61_49be_45e5);
    }

    #[test]
    fn reference_vectors() {
        // First entries of the reference implementation's test vector table (same key,
        // message 00..len-1), as 64-bit little-endian values.
        let expect: [(usize, u64); 9] = [
            (0, 0x726f_db47_dd0e_0e31),
            (1, 0x74f8_39c5_93dc_67fd),
            (2, 0x0d6c_8009_d9a9_4f5a),
            (3, 0x8567_6696_d7fb_7e2d),
            (4, 0xcf27_94e0_2771_87b7),
            (5, 0x1876_5564_cd99_a68d),
            (6, 0xcbc9_466e_58fe_e3ce),
            (7, 0xab02_00f5_8b01_d137),
            (8, 0x93f5_f579_9a93_2462),
        ];
        for (len, want) in expect {
            assert_eq!(siphash24(&paper_key(), &msg(len)), want, "len {len}");
        }
    }

    #[test]
    #[allow(deprecated)]
    fn matches_std_siphasher_on_all_lengths() {
        use core::hash::Hasher;
        let key = paper_key();
        for len in 0..=64 {
            let m = msg(len);
            let mut h = core::hash::SipHasher::new_with_keys(key.k0, key.k1);
            h.write(&m);
            assert_eq!(siphash24(&key, &m), h.finish(), "len {len}");
        }
    }

    #[test]
    fn debug_hides_key() {
        assert_eq!(format!("{:?}", paper_key()), "SipKey(..)");
    }
}
