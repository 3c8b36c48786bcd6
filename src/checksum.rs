//! One home for hashing: the SHA-256 checksums of migration files and of database files.

use sha2::{Digest, Sha256};

/// The hex SHA-256 of a migration file's text.
pub fn sha256_hex(text: &str) -> String {
    // A table lookup per nibble: every migration is hashed on every command, and the
    // formatting machinery cost more than the hash itself.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(text.as_bytes()) {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// The SHA-256 of some bytes, e.g. a whole database file.
pub fn digest(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_sha256() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(digest(b"").len(), 32);
    }
}
