//! Recognizing a file of another format by its first bytes, so that a reader handed the
//! wrong file says what it holds instead of reporting a nonsense length.
//!
//! Only magic numbers that a reader's own format cannot start with are trusted: a caller
//! asks after its own parse has failed.

/// What the first bytes of a file say it is, in words a person knows, or `None`.
///
/// Recognized: a zip archive — PyTorch's `torch.save` (its first entry is
/// `…/data.pkl`), NumPy's `.npz` (entries `….npy`) or another zip; a Python pickle
/// (protocol 2 to 5: legacy `torch.save`, `pickle.dump`); a NumPy `.npy` array; a
/// safetensors file; a firmnet weight file; gzip.
pub(crate) fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"PK\x03\x04") {
        // A local file header: the name's length at 26, the name at 30.
        let name = bytes
            .get(26..28)
            .map(|n| usize::from(u16::from_le_bytes([n[0], n[1]])))
            .and_then(|len| bytes.get(30..30 + len))
            .unwrap_or_default();
        return Some(
            if name.ends_with(b"data.pkl") || name.ends_with(b".data/version") {
                "a PyTorch `torch.save` archive (a zip of pickles)"
            } else if name.ends_with(b".npy") {
                "a NumPy `.npz` archive (`numpy.savez`)"
            } else {
                "a zip archive"
            },
        );
    }
    if let [0x80, 2..=5, ..] = bytes {
        return Some("a Python pickle (`pickle.dump`, or `torch.save` before PyTorch 1.6)");
    }
    if bytes.starts_with(b"\x93NUMPY") {
        return Some("a NumPy `.npy` array (`numpy.save`)");
    }
    if bytes.starts_with(&super::MAGIC) {
        return Some("a firmnet weight file (`.fnet`)");
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Some("a gzip-compressed file");
    }
    if let Some(len) = bytes.get(..8) {
        let len = u64::from_le_bytes([
            len[0], len[1], len[2], len[3], len[4], len[5], len[6], len[7],
        ]);
        if len >= 2 && len <= (bytes.len() as u64).saturating_sub(8) && bytes.get(8) == Some(&b'{')
        {
            return Some("a safetensors file");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::sniff;

    /// The first bytes of each kind, as their writers lay them out.
    #[test]
    fn each_kind_by_its_first_bytes() {
        // A zip's local file header: signature, 22 bytes, the name's length (u16) and the
        // extra field's (u16), then the name.
        let zip = |name: &[u8]| {
            let mut z = b"PK\x03\x04".to_vec();
            z.extend_from_slice(&[0; 22]);
            z.extend_from_slice(&(name.len() as u16).to_le_bytes());
            z.extend_from_slice(&[0, 0]);
            z.extend_from_slice(name);
            z
        };
        assert_eq!(
            sniff(&zip(b"archive/data.pkl")),
            Some("a PyTorch `torch.save` archive (a zip of pickles)")
        );
        assert_eq!(
            sniff(&zip(b"x.npy")),
            Some("a NumPy `.npz` archive (`numpy.savez`)")
        );
        assert_eq!(sniff(&zip(b"notes.txt")), Some("a zip archive"));
        assert_eq!(sniff(b"PK\x03\x04"), Some("a zip archive"));
        for protocol in 2..=5 {
            assert!(sniff(&[0x80, protocol, 0x63]).unwrap().contains("pickle"));
        }
        assert_eq!(sniff(&[0x80, 6]), None);
        assert!(sniff(b"\x93NUMPY\x01\x00").unwrap().contains(".npy"));
        assert!(sniff(b"FNET\x02\x00").unwrap().contains("firmnet"));
        assert!(sniff(&[0x1f, 0x8b, 8]).unwrap().contains("gzip"));
        assert_eq!(sniff(b"\x02\0\0\0\0\0\0\0{}"), Some("a safetensors file"));
        // A length past the end is not safetensors.
        assert_eq!(sniff(b"\x03\0\0\0\0\0\0\0{}"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"1,2,3\n"), None);
    }
}
