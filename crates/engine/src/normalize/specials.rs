//! Where the bytes that end a plain run inside a JSON string are (`"`, `\` and control
//! characters), for a whole line at once, as one bit a byte: the first stage of the narrow
//! reading's walk ([`super::scan::Cursor`]).
//!
//! The walk reads about forty strings a line (values kept or skipped). Looking for each one's
//! end from where it starts, sixteen bytes at a time, was a loop and its set-up a string, for
//! strings mostly shorter than forty bytes. Marking the whole line first, 64 bytes a round,
//! makes each string's end a look at one word: a string read went from about 116 instructions
//! to 72, and the marks of a mail line (about 28 rounds) cost about 1,000 (callgrind).

/// One bit a byte of a text: set where the byte is `"`, `\` or below `0x20`.
#[derive(Default)]
pub struct Specials {
    /// Bit `i % 64` of word `i / 64` is byte `i`'s; bits past the text's end are clear.
    words: Vec<u64>,
}

impl Specials {
    /// Marks the special bytes of `bytes`, forgetting the text marked before (the words are
    /// reused, so that lines read one after another allocate once).
    pub fn index(&mut self, bytes: &[u8]) {
        self.words.clear();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked on the line above).
            return unsafe { x86::mark_avx2(&mut self.words, bytes) };
        }
        mark(&mut self.words, bytes, block_mask);
    }

    /// The place of the first special byte at or after `at`, if any.
    #[inline]
    pub fn first_from(&self, at: usize) -> Option<usize> {
        let mut word_at = at / 64;
        let mut word = self.words.get(word_at)? & (u64::MAX << (at % 64));
        while word == 0 {
            word_at += 1;
            word = *self.words.get(word_at)?;
        }
        Some(word_at * 64 + word.trailing_zeros() as usize)
    }
}

/// Appends the marks of `bytes` to `words`, a block of 64 bytes at a time (`mask`); the last
/// block is padded with spaces, which are not special, so the bits past the end stay clear.
#[inline(always)]
fn mark(words: &mut Vec<u64>, bytes: &[u8], mask: impl Fn(&[u8; 64]) -> u64) {
    let blocks = bytes.chunks_exact(64);
    let rest = blocks.remainder();
    words.extend(blocks.map(|block| mask(block.try_into().expect("blocks of sixty-four"))));
    if !rest.is_empty() {
        let mut last = [b' '; 64];
        last[..rest.len()].copy_from_slice(rest);
        words.push(mask(&last));
    }
}

/// The special bytes of a 64-byte block, as bits.
fn block_mask(block: &[u8; 64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU has it.
        unsafe { x86::block_mask_sse2(block) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        bytewise_mask(block)
    }
}

/// [`block_mask`] a byte at a time: where there is no SSE2, and what the tests hold SSE2 to.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn bytewise_mask(block: &[u8; 64]) -> u64 {
    block.iter().enumerate().fold(0, |mask, (i, &b)| {
        mask | u64::from(b == b'"' || b == b'\\' || b < 0x20) << i
    })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! Sixteen bytes compared at once with the SSE2 instructions every x86-64 has, or 32 with
    //! AVX2 where the CPU has it. Each function enables what it uses, so the intrinsics in it
    //! are safe to call; a call to one takes an `unsafe` block that says why the CPU has it.
    //!
    //! A byte is special where it is `\`, or where it is `"` or below 0x20: flipping bit 1
    //! maps `"` (0x22) to 0x20 and the control characters onto themselves, and nothing else to
    //! 0x20 or below, so the second test is one unsigned compare.
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_max_epu8,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm256_xor_si256, _mm_cmpeq_epi8,
        _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_xor_si128,
    };

    /// A bit for each byte of `block` that is `"`, `\` or a control character.
    #[target_feature(enable = "sse2")]
    pub(super) fn block_mask_sse2(block: &[u8; 64]) -> u64 {
        let (flip, space, backslash) = (
            _mm_set1_epi8(0x02),
            _mm_set1_epi8(0x20),
            _mm_set1_epi8(b'\\' as i8),
        );
        let mut mask = 0;
        for (i, sixteen) in block.chunks_exact(16).enumerate() {
            // SAFETY: `sixteen` is sixteen bytes, and an unaligned load reads exactly those.
            let x = unsafe { _mm_loadu_si128(sixteen.as_ptr().cast::<__m128i>()) };
            let flipped = _mm_xor_si128(x, flip);
            let low = _mm_cmpeq_epi8(_mm_max_epu8(flipped, space), space);
            let found = _mm_or_si128(low, _mm_cmpeq_epi8(x, backslash));
            mask |= u64::from(_mm_movemask_epi8(found) as u16) << (i * 16);
        }
        mask
    }

    /// [`block_mask_sse2`] with AVX2, 32 bytes a compare.
    #[target_feature(enable = "avx2")]
    fn block_mask_avx2(block: &[u8; 64]) -> u64 {
        let (flip, space, backslash) = (
            _mm256_set1_epi8(0x02),
            _mm256_set1_epi8(0x20),
            _mm256_set1_epi8(b'\\' as i8),
        );
        let mut mask = 0;
        for (i, half) in block.chunks_exact(32).enumerate() {
            // SAFETY: `half` is 32 bytes, and an unaligned load reads exactly those.
            let x = unsafe { _mm256_loadu_si256(half.as_ptr().cast::<__m256i>()) };
            let flipped = _mm256_xor_si256(x, flip);
            let low = _mm256_cmpeq_epi8(_mm256_max_epu8(flipped, space), space);
            let found = _mm256_or_si256(low, _mm256_cmpeq_epi8(x, backslash));
            mask |= u64::from(_mm256_movemask_epi8(found) as u32) << (i * 32);
        }
        mask
    }

    /// [`super::mark`] with [`block_mask_avx2`], compiled for AVX2 as a whole.
    #[target_feature(enable = "avx2")]
    pub(super) fn mark_avx2(words: &mut Vec<u64>, bytes: &[u8]) {
        // The closure has this function's target features, so it may call the AVX2 one.
        super::mark(words, bytes, |block| block_mask_avx2(block));
    }

    #[cfg(test)]
    /// [`block_mask_avx2`], where the CPU has AVX2.
    pub(super) fn avx2_mask(block: &[u8; 64]) -> Option<u64> {
        // SAFETY: called only where the CPU has AVX2 (checked first).
        std::arch::is_x86_feature_detected!("avx2").then(|| unsafe { block_mask_avx2(block) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every special byte is found from every place before it, at every place in a text of
    /// every length over a few blocks, whatever follows it; and none in plain text.
    #[test]
    fn special_bytes_are_found_at_every_place() {
        let mut specials = Specials::default();
        for len in 0..140 {
            for special in [b'"', b'\\', 0x00, 0x1f] {
                for at in 0..len {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    // A high byte after the special one cannot hide it.
                    if at + 1 < len {
                        bytes[at + 1] = 0xff;
                    }
                    specials.index(&bytes);
                    for from in [0, at / 2, at] {
                        assert_eq!(specials.first_from(from), Some(at), "{len} {special} {at}");
                    }
                    assert_eq!(specials.first_from(at + 1), None, "{len} {special} {at}");
                }
            }
            for plain in [0x20, b'!', b'#', b'[', b']', 0x7f, 0x80, 0xff] {
                specials.index(&vec![plain; len]);
                assert_eq!(specials.first_from(0), None, "{len} {plain}");
            }
        }
    }

    /// The SSE2 and AVX2 masks are the bytewise ones, for every byte value at every place of a block.
    #[test]
    fn block_masks_are_the_bytewise_ones() {
        for byte in 0..=255u8 {
            for at in 0..64 {
                let mut block = [b'x'; 64];
                block[at] = byte;
                block[63 - at] = byte.wrapping_add(at as u8);
                let bytewise = bytewise_mask(&block);
                assert_eq!(block_mask(&block), bytewise, "{byte} {at}");
                #[cfg(target_arch = "x86_64")]
                if let Some(avx2) = x86::avx2_mask(&block) {
                    assert_eq!(avx2, bytewise, "AVX2: {byte} {at}");
                }
            }
        }
    }
}
