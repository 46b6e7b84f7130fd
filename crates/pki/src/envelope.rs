//! SM2 digital envelopes that deliver a CA-made encryption key pair to the holder of a signing
//! key (dual certificates, GM/T 0015): the GM/T 0009 `SM2EnvelopedKey` (DER) and the GM/T 0016
//! SKF `ENVELOPEDKEYBLOB` (what `SKF_ImportECCKeyPair` takes), plus the SM2 public-key
//! encryption (GB/T 32918.4, C1C3C2) they rest on.
//!
//! Both envelope forms follow GM/T 0009 §7.4: a fresh SM4 session key encrypts the 32-byte
//! private key in ECB mode (two blocks, no padding), and SM2 encrypts the session key to the
//! recipient's *signing* public key. [`seal_encryption_key`] makes both forms from one session
//! key and one SM2 ciphertext, so they carry the same bytes in different containers.

use der::asn1::{BitString, Null, ObjectIdentifier, OctetString, Uint};
use der::{Decode, Encode, Sequence, Tagged};
use sm4::cipher::{Block, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use sm4::Sm4;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use zeroize::Zeroizing;

use crate::{Algorithm, PkiError, Signer, SoftwareKey};

/// SM4 in ECB mode (GM/T 0006: sm-scheme 104.1), the `symAlgID` of GM/T 0009 envelopes.
pub const OID_SM4_ECB: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.104.1");

/// GM/T 0006 algorithm identifier `SGD_SM4_ECB`, the `ulSymmAlgID` of SKF envelopes.
pub const SGD_SM4_ECB: u32 = 0x0000_0401;

/// `Version` of an SKF `ENVELOPEDKEYBLOB`; GM/T 0016 defines only 1.
const SKF_ENVELOPE_VERSION: u32 = 1;
/// SM2 key length in bits (`ulBits`, `PubKey.BitLen`).
const SM2_BITS: u32 = 256;
/// Bytes of an SM2 coordinate or private scalar.
const SM2_FIELD_LEN: usize = 32;
/// Width of SKF coordinate and key fields (ECC_MAX_XCOORDINATE_BITS_LEN / 8), sized for
/// 512-bit curves; 256-bit values sit right-aligned, the first 32 bytes zero.
const SKF_FIELD_LEN: usize = 64;
const SM3_LEN: usize = 32;
const SM4_KEY_LEN: usize = 16;
const SM4_BLOCK_LEN: usize = 16;
/// `04 || X || Y`.
const SM2_POINT_LEN: usize = 1 + 2 * SM2_FIELD_LEN;

/// Offsets inside an SKF `ENVELOPEDKEYBLOB`; see [`SealedKey::skf_blob`].
const SKF_OFF_ENCRYPTED_PRIVATE_KEY: usize = 12;
const SKF_OFF_PUBKEY_BITLEN: usize = SKF_OFF_ENCRYPTED_PRIVATE_KEY + SKF_FIELD_LEN; // 76
const SKF_OFF_PUBKEY_X: usize = SKF_OFF_PUBKEY_BITLEN + 4; // 80
const SKF_OFF_PUBKEY_Y: usize = SKF_OFF_PUBKEY_X + SKF_FIELD_LEN; // 144
const SKF_OFF_CIPHER_X: usize = SKF_OFF_PUBKEY_Y + SKF_FIELD_LEN; // 208
const SKF_OFF_CIPHER_Y: usize = SKF_OFF_CIPHER_X + SKF_FIELD_LEN; // 272
const SKF_OFF_CIPHER_HASH: usize = SKF_OFF_CIPHER_Y + SKF_FIELD_LEN; // 336
const SKF_OFF_CIPHER_LEN: usize = SKF_OFF_CIPHER_HASH + SM3_LEN; // 368
const SKF_OFF_CIPHER: usize = SKF_OFF_CIPHER_LEN + 4; // 372
/// Whole blob with a 16-byte SM4 session key.
const SKF_BLOB_LEN: usize = SKF_OFF_CIPHER + SM4_KEY_LEN; // 388
/// C code often sends `sizeof(ENVELOPEDKEYBLOB) + CipherLen - 1`, where sizeof counts the
/// `Cipher[1]` placeholder and, unpacked, pads the struct to 4 bytes: accept that much zero
/// padding after the blob.
const SKF_MAX_TRAILING_PADDING: usize = 4;

/// Largest GM/T 0009 envelope we parse; a real one is about 300 bytes.
const MAX_ENVELOPE_BYTES: usize = 4096;

/// GM/T 0009 `SM2Cipher`: an SM2 ciphertext, C1 as two INTEGERs, then C3 (`hash`), then C2.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
pub(crate) struct Sm2Cipher {
    pub(crate) x_coordinate: Uint,
    pub(crate) y_coordinate: Uint,
    pub(crate) hash: OctetString,
    pub(crate) cipher_text: OctetString,
}

impl Sm2Cipher {
    /// Parses and checks the sizes GM/T 0009 fixes (coordinates fit 32 bytes, hash is SM3).
    /// Whether C1 is on the curve is checked when decrypting.
    pub(crate) fn parse(der: &[u8]) -> Result<Self, PkiError> {
        let cipher = Self::from_der(der).map_err(|e| PkiError::malformed("SM2 ciphertext", e))?;
        cipher.check()?;
        Ok(cipher)
    }

    fn check(&self) -> Result<(), PkiError> {
        if self.x_coordinate.as_bytes().len() > SM2_FIELD_LEN
            || self.y_coordinate.as_bytes().len() > SM2_FIELD_LEN
        {
            return Err(PkiError::malformed(
                "SM2 ciphertext",
                "C1 coordinate longer than 32 bytes",
            ));
        }
        if self.hash.as_bytes().len() != SM3_LEN {
            return Err(PkiError::malformed(
                "SM2 ciphertext",
                "HASH is not 32 bytes (SM3)",
            ));
        }
        Ok(())
    }

    fn from_parts(x: &[u8], y: &[u8], hash: &[u8], cipher_text: &[u8]) -> Result<Self, PkiError> {
        let bad = |e: der::Error| PkiError::malformed("SM2 ciphertext", e);
        let cipher = Sm2Cipher {
            x_coordinate: Uint::new(x).map_err(bad)?,
            y_coordinate: Uint::new(y).map_err(bad)?,
            hash: OctetString::new(hash).map_err(bad)?,
            cipher_text: OctetString::new(cipher_text).map_err(bad)?,
        };
        cipher.check()?;
        Ok(cipher)
    }
}

/// GM/T 0009 `SM2EnvelopedKey`.
#[derive(Clone, Debug, PartialEq, Eq, Sequence)]
struct Sm2EnvelopedKey {
    sym_alg_id: AlgorithmIdentifierOwned,
    sym_encrypted_key: Sm2Cipher,
    /// `SM2PublicKey ::= BIT STRING`, `04 || X || Y` of the enveloped key pair.
    sm2_public_key: BitString,
    /// SM4-ECB of the 32-byte private key.
    sm2_encrypted_private_key: BitString,
}

/// An encryption key pair sealed to one recipient's signing key, in both wire forms. Holds
/// ciphertext only.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey {
    /// GM/T 0009 `SM2EnvelopedKey`, DER:
    ///
    /// ```text
    /// SM2EnvelopedKey ::= SEQUENCE {
    ///   symAlgID               AlgorithmIdentifier,  -- 1.2.156.10197.1.104.1 (SM4-ECB), no params
    ///   symEncryptedKey        SM2Cipher,            -- the 16-byte SM4 key, SM2-encrypted
    ///   Sm2PublicKey           BIT STRING,           -- 04 || X || Y of the enveloped key
    ///   Sm2EncryptedPrivateKey BIT STRING }          -- SM4-ECB(session key, d), 32 bytes
    /// SM2Cipher ::= SEQUENCE { XCoordinate INTEGER, YCoordinate INTEGER,
    ///                          HASH OCTET STRING (32), CipherText OCTET STRING }
    /// ```
    pub gmt0009_der: Vec<u8>,

    /// GM/T 0016 (SKF) `ENVELOPEDKEYBLOB`, 388 bytes. Packed, every ULONG a little-endian
    /// u32, every 64-byte field holding its 32-byte big-endian value in its *last* 32 bytes
    /// (first 32 bytes zero):
    ///
    /// ```text
    /// offset size  field
    ///      0    4  Version            = 1
    ///      4    4  ulSymmAlgID        = 0x00000401 (SGD_SM4_ECB)
    ///      8    4  ulBits             = 256
    ///     12   64  cbEncryptedPriKey  = 00 x 32 || SM4-ECB(session key, d)
    ///     76    4  PubKey.BitLen      = 256
    ///     80   64  PubKey.XCoordinate = 00 x 32 || X
    ///    144   64  PubKey.YCoordinate = 00 x 32 || Y
    ///    208   64  ECCCipherBlob.XCoordinate = 00 x 32 || C1.x
    ///    272   64  ECCCipherBlob.YCoordinate = 00 x 32 || C1.y
    ///    336   32  ECCCipherBlob.HASH        = C3 (SM3)
    ///    368    4  ECCCipherBlob.CipherLen   = 16
    ///    372   16  ECCCipherBlob.Cipher      = C2 (the SM4 key, masked)
    /// ```
    pub skf_blob: Vec<u8>,
}

impl std::fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedKey")
            .field("gmt0009_der_len", &self.gmt0009_der.len())
            .field("skf_blob_len", &self.skf_blob.len())
            .finish()
    }
}

/// SM2 public-key encryption (GB/T 32918.4, C1C3C2, SM3) of `plaintext` to the SM2 key in
/// `recipient`, as GM/T 0009 `SM2Cipher` DER, which `openssl pkeyutl -decrypt` reads.
pub fn sm2_encrypt(
    recipient: &SubjectPublicKeyInfoOwned,
    plaintext: &[u8],
) -> Result<Vec<u8>, PkiError> {
    let algorithm = Algorithm::of_public_key(recipient)?;
    if algorithm != Algorithm::Sm2Sm3 {
        return Err(PkiError::AlgorithmMismatch {
            expected: Algorithm::Sm2Sm3,
            found: algorithm,
        });
    }
    if plaintext.is_empty() {
        return Err(PkiError::InvalidRequest(
            "SM2 cannot encrypt an empty message".into(),
        ));
    }
    let point = recipient
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| PkiError::malformed("public key", "bit string with unused bits"))?;
    let public_key = sm2::PublicKey::from_sec1_bytes(point)
        .map_err(|_| PkiError::malformed("public key", "not a point on SM2"))?;
    sm2::pke::EncryptingKey::new_with_mode(public_key, sm2::pke::Mode::C1C3C2)
        .encrypt_der(&mut rand::rng(), plaintext)
        .map_err(|e| PkiError::encoding(format!("SM2 encryption: {e}")))
}

/// Seals the SM2 `encryption_key` pair to the holder of `recipient_signing_public_key` (an
/// SM2 signing key, usually from the CSR), in both GM/T 0009 and GM/T 0016 form.
pub fn seal_encryption_key(
    encryption_key: &SoftwareKey,
    recipient_signing_public_key: &SubjectPublicKeyInfoOwned,
) -> Result<SealedKey, PkiError> {
    let enveloped_point = sm2_point(encryption_key)?;
    let mut session_key = Zeroizing::new([0u8; SM4_KEY_LEN]);
    rand::fill(&mut session_key[..]);
    let encrypted_private_key = sm4_ecb(
        &session_key,
        &*encryption_key.private_scalar_bytes()?,
        Direction::Encrypt,
    )?;
    let cipher_der = sm2_encrypt(recipient_signing_public_key, &session_key[..])?;
    let sym_encrypted_key = Sm2Cipher::parse(&cipher_der)?;

    let envelope = Sm2EnvelopedKey {
        sym_alg_id: AlgorithmIdentifierOwned {
            oid: OID_SM4_ECB,
            parameters: None,
        },
        sym_encrypted_key: sym_encrypted_key.clone(),
        sm2_public_key: BitString::from_bytes(enveloped_point).map_err(PkiError::encoding)?,
        sm2_encrypted_private_key: BitString::from_bytes(&encrypted_private_key[..])
            .map_err(PkiError::encoding)?,
    };
    let gmt0009_der = envelope.to_der().map_err(PkiError::encoding)?;
    let skf_blob = skf_blob(&encrypted_private_key, enveloped_point, &sym_encrypted_key)?;
    Ok(SealedKey {
        gmt0009_der,
        skf_blob,
    })
}

/// Opens a GM/T 0009 `SM2EnvelopedKey` with the recipient's SM2 signing key and returns the
/// enveloped key pair, after checking that its private key matches the public key carried.
/// Every malformed, altered or foreign envelope is an error.
pub fn open_gmt0009_envelope(
    der: &[u8],
    recipient_signing_key: &SoftwareKey,
) -> Result<SoftwareKey, PkiError> {
    require_sm2(recipient_signing_key)?;
    if der.len() > MAX_ENVELOPE_BYTES {
        return Err(PkiError::malformed(
            "SM2 envelope",
            format!("larger than {MAX_ENVELOPE_BYTES} bytes"),
        ));
    }
    let envelope =
        Sm2EnvelopedKey::from_der(der).map_err(|e| PkiError::malformed("SM2 envelope", e))?;
    let alg = &envelope.sym_alg_id;
    // Absent parameters are what we write; some toolkits write NULL, which means the same.
    let params_ok = alg
        .parameters
        .as_ref()
        .is_none_or(|p| p.tag() == Null.tag() && p.value().is_empty());
    if alg.oid != OID_SM4_ECB || !params_ok {
        return Err(PkiError::UnsupportedAlgorithm(format!(
            "envelope symmetric algorithm {}: only SM4-ECB ({OID_SM4_ECB})",
            alg.oid
        )));
    }
    envelope.sym_encrypted_key.check()?;
    let point = envelope
        .sm2_public_key
        .as_bytes()
        .ok_or_else(|| PkiError::malformed("SM2 envelope", "public key has unused bits"))?;
    let encrypted_private_key = envelope
        .sm2_encrypted_private_key
        .as_bytes()
        .ok_or_else(|| PkiError::malformed("SM2 envelope", "private key has unused bits"))?;
    let cipher_der = envelope
        .sym_encrypted_key
        .to_der()
        .map_err(PkiError::encoding)?;
    finish_opening(
        recipient_signing_key,
        &cipher_der,
        encrypted_private_key,
        point,
    )
}

/// Opens a GM/T 0016 `ENVELOPEDKEYBLOB` (layout at [`SealedKey::skf_blob`]) with the
/// recipient's SM2 signing key, with the same checks as [`open_gmt0009_envelope`].
///
/// Only the last 32 bytes of `cbEncryptedPriKey` are read: writers that SM4-encrypt the whole
/// zero-padded 64-byte field put the same ciphertext there (ECB), and writers that encrypt
/// only the 32 key bytes put it there too.
pub fn open_skf_envelope(
    blob: &[u8],
    recipient_signing_key: &SoftwareKey,
) -> Result<SoftwareKey, PkiError> {
    require_sm2(recipient_signing_key)?;
    let bad = |detail: &str| PkiError::malformed("SKF envelope", detail);
    if blob.len() < SKF_OFF_CIPHER {
        return Err(bad("shorter than its fixed part (372 bytes)"));
    }
    let version = read_u32_le(blob, 0)?;
    let symm_alg = read_u32_le(blob, 4)?;
    let bits = read_u32_le(blob, 8)?;
    let pub_bits = read_u32_le(blob, SKF_OFF_PUBKEY_BITLEN)?;
    let cipher_len = read_u32_le(blob, SKF_OFF_CIPHER_LEN)?;
    if version != SKF_ENVELOPE_VERSION {
        return Err(bad("Version is not 1"));
    }
    if symm_alg != SGD_SM4_ECB {
        return Err(PkiError::UnsupportedAlgorithm(format!(
            "envelope symmetric algorithm {symm_alg:#010x}: only SGD_SM4_ECB (0x00000401)"
        )));
    }
    if bits != SM2_BITS || pub_bits != SM2_BITS {
        return Err(bad("key length is not 256 bits"));
    }
    if cipher_len as usize != SM4_KEY_LEN {
        return Err(bad("CipherLen is not 16 (an SM4 key)"));
    }
    let trailing = blob
        .get(SKF_BLOB_LEN..)
        .ok_or_else(|| bad("shorter than its CipherLen says"))?;
    if trailing.len() > SKF_MAX_TRAILING_PADDING || trailing.iter().any(|&b| b != 0) {
        return Err(bad("unexpected bytes after the blob"));
    }

    let public_x = right_aligned(blob, SKF_OFF_PUBKEY_X)?;
    let public_y = right_aligned(blob, SKF_OFF_PUBKEY_Y)?;
    let mut point = [0u8; SM2_POINT_LEN];
    point[0] = 0x04;
    point[1..=SM2_FIELD_LEN].copy_from_slice(public_x);
    point[1 + SM2_FIELD_LEN..].copy_from_slice(public_y);

    let cipher = Sm2Cipher::from_parts(
        right_aligned(blob, SKF_OFF_CIPHER_X)?,
        right_aligned(blob, SKF_OFF_CIPHER_Y)?,
        slice(blob, SKF_OFF_CIPHER_HASH, SM3_LEN)?,
        slice(blob, SKF_OFF_CIPHER, SM4_KEY_LEN)?,
    )?;
    let cipher_der = cipher.to_der().map_err(PkiError::encoding)?;
    let encrypted_private_key = slice(
        blob,
        SKF_OFF_ENCRYPTED_PRIVATE_KEY + SKF_FIELD_LEN - SM2_FIELD_LEN,
        SM2_FIELD_LEN,
    )?;
    finish_opening(
        recipient_signing_key,
        &cipher_der,
        encrypted_private_key,
        &point,
    )
}

/// The shared second half of opening: SM2-decrypt the session key, SM4-decrypt the private
/// key, and insist that it belongs to the public key the envelope names.
fn finish_opening(
    recipient_signing_key: &SoftwareKey,
    session_key_cipher_der: &[u8],
    encrypted_private_key: &[u8],
    enveloped_point: &[u8],
) -> Result<SoftwareKey, PkiError> {
    if enveloped_point.len() != SM2_POINT_LEN || enveloped_point.first() != Some(&0x04) {
        return Err(PkiError::malformed(
            "SM2 envelope",
            "public key is not an uncompressed point (04 || X || Y)",
        ));
    }
    let encrypted_private_key: &[u8; SM2_FIELD_LEN] =
        encrypted_private_key.try_into().map_err(|_| {
            PkiError::malformed("SM2 envelope", "encrypted private key is not 32 bytes")
        })?;
    let session_key = recipient_signing_key.sm2_decrypt(session_key_cipher_der)?;
    let session_key: &[u8; SM4_KEY_LEN] = session_key[..]
        .try_into()
        .map_err(|_| PkiError::Decryption("the session key is not a 16-byte SM4 key".into()))?;
    let scalar = sm4_ecb(session_key, encrypted_private_key, Direction::Decrypt)?;
    let key = SoftwareKey::from_private_scalar_bytes(Algorithm::Sm2Sm3, &scalar[..])
        .map_err(|_| PkiError::Decryption("the enveloped private key is not valid".into()))?;
    if sm2_point(&key)? != enveloped_point {
        return Err(PkiError::Decryption(
            "the enveloped private key does not match the enveloped public key".into(),
        ));
    }
    Ok(key)
}

/// Lays out an `ENVELOPEDKEYBLOB`; see [`SealedKey::skf_blob`].
fn skf_blob(
    encrypted_private_key: &[u8; SM2_FIELD_LEN],
    enveloped_point: &[u8],
    cipher: &Sm2Cipher,
) -> Result<Vec<u8>, PkiError> {
    let (x, y) = match enveloped_point {
        [0x04, xy @ ..] if xy.len() == 2 * SM2_FIELD_LEN => xy.split_at(SM2_FIELD_LEN),
        _ => {
            return Err(PkiError::encoding(
                "public key is not an uncompressed point",
            ))
        }
    };
    let mut blob = Vec::with_capacity(SKF_BLOB_LEN);
    blob.extend_from_slice(&SKF_ENVELOPE_VERSION.to_le_bytes());
    blob.extend_from_slice(&SGD_SM4_ECB.to_le_bytes());
    blob.extend_from_slice(&SM2_BITS.to_le_bytes());
    push_right_aligned(&mut blob, encrypted_private_key)?;
    blob.extend_from_slice(&SM2_BITS.to_le_bytes());
    push_right_aligned(&mut blob, x)?;
    push_right_aligned(&mut blob, y)?;
    push_right_aligned(&mut blob, cipher.x_coordinate.as_bytes())?;
    push_right_aligned(&mut blob, cipher.y_coordinate.as_bytes())?;
    blob.extend_from_slice(cipher.hash.as_bytes());
    let c2 = cipher.cipher_text.as_bytes();
    let c2_len = u32::try_from(c2.len()).map_err(PkiError::encoding)?;
    blob.extend_from_slice(&c2_len.to_le_bytes());
    blob.extend_from_slice(c2);
    if blob.len() != SKF_BLOB_LEN {
        return Err(PkiError::encoding(format!(
            "SKF envelope came out {} bytes, expected {SKF_BLOB_LEN}",
            blob.len()
        )));
    }
    Ok(blob)
}

/// Appends `value` (at most 32 bytes, big-endian) as a 64-byte SKF field, right-aligned.
fn push_right_aligned(blob: &mut Vec<u8>, value: &[u8]) -> Result<(), PkiError> {
    let pad = SKF_FIELD_LEN
        .checked_sub(value.len())
        .filter(|pad| *pad >= SKF_FIELD_LEN - SM2_FIELD_LEN)
        .ok_or_else(|| PkiError::encoding("value longer than 32 bytes"))?;
    blob.resize(blob.len() + pad, 0);
    blob.extend_from_slice(value);
    Ok(())
}

/// The 32-byte value of the 64-byte SKF field at `offset`; its first half must be zero.
fn right_aligned(blob: &[u8], offset: usize) -> Result<&[u8], PkiError> {
    let field = slice(blob, offset, SKF_FIELD_LEN)?;
    let (high, value) = field.split_at(SKF_FIELD_LEN - SM2_FIELD_LEN);
    if high.iter().any(|&b| b != 0) {
        return Err(PkiError::malformed(
            "SKF envelope",
            format!("64-byte field at offset {offset} holds more than 256 bits"),
        ));
    }
    Ok(value)
}

fn slice(blob: &[u8], offset: usize, len: usize) -> Result<&[u8], PkiError> {
    offset
        .checked_add(len)
        .and_then(|end| blob.get(offset..end))
        .ok_or_else(|| PkiError::malformed("SKF envelope", "truncated"))
}

fn read_u32_le(blob: &[u8], offset: usize) -> Result<u32, PkiError> {
    let bytes: [u8; 4] = slice(blob, offset, 4)?
        .try_into()
        .map_err(|_| PkiError::malformed("SKF envelope", "truncated"))?;
    Ok(u32::from_le_bytes(bytes))
}

fn require_sm2(key: &SoftwareKey) -> Result<(), PkiError> {
    if key.algorithm() == Algorithm::Sm2Sm3 {
        Ok(())
    } else {
        Err(PkiError::AlgorithmMismatch {
            expected: Algorithm::Sm2Sm3,
            found: key.algorithm(),
        })
    }
}

/// `04 || X || Y` of an SM2 key, as its SubjectPublicKeyInfo carries it.
fn sm2_point(key: &SoftwareKey) -> Result<&[u8], PkiError> {
    require_sm2(key)?;
    key.public_key_spki()
        .subject_public_key
        .as_bytes()
        .filter(|p| p.len() == SM2_POINT_LEN && p[0] == 0x04)
        .ok_or_else(|| PkiError::encoding("SM2 public key is not an uncompressed point"))
}

#[derive(Clone, Copy)]
enum Direction {
    Encrypt,
    Decrypt,
}

/// SM4-ECB over exactly two blocks, no padding: GM/T 0009 encrypts the 32-byte private key
/// this way, and 32 is a multiple of the block size.
fn sm4_ecb(
    key: &[u8; SM4_KEY_LEN],
    data: &[u8; SM2_FIELD_LEN],
    direction: Direction,
) -> Result<Zeroizing<[u8; SM2_FIELD_LEN]>, PkiError> {
    let cipher = Sm4::new_from_slice(key).map_err(PkiError::encoding)?;
    let mut out = Zeroizing::new(*data);
    for chunk in out.chunks_exact_mut(SM4_BLOCK_LEN) {
        let block = <&mut Block<Sm4>>::try_from(chunk)
            .map_err(|_| PkiError::encoding("SM4 block is not 16 bytes"))?;
        match direction {
            Direction::Encrypt => cipher.encrypt_block(block),
            Direction::Decrypt => cipher.decrypt_block(block),
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_support::{openssl, openssl_status, TempDir};
    use rand::{RngExt, SeedableRng};

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn sm2_key() -> SoftwareKey {
        SoftwareKey::generate(Algorithm::Sm2Sm3).expect("key")
    }

    /// Writes `key` for OpenSSL (encrypted PKCS#8, passphrase "pw") and its public key.
    fn write_key_for_openssl(dir: &TempDir, name: &str, key: &SoftwareKey) -> (String, String) {
        use der::EncodePem;
        let key_pem = key.to_encrypted_pkcs8_pem("pw").expect("pem");
        let key_path = dir.write(&format!("{name}.key.pem"), key_pem.as_bytes());
        let pub_pem = key
            .public_key_spki()
            .to_pem(der::pem::LineEnding::LF)
            .expect("pub pem");
        let pub_path = dir.write(&format!("{name}.pub.pem"), pub_pem.as_bytes());
        (key_path, pub_path)
    }

    fn openssl_sm2_decrypt(key_path: &str, ciphertext_path: &str) -> Vec<u8> {
        let out = std::process::Command::new("openssl")
            .args([
                "pkeyutl",
                "-decrypt",
                "-inkey",
                key_path,
                "-passin",
                "pass:pw",
                "-in",
                ciphertext_path,
            ])
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    #[test]
    fn sm4_known_answer() {
        // GB/T 32907-2016 Appendix A, example 1: key = plaintext.
        let key: [u8; 16] = unhex("0123456789abcdeffedcba9876543210")
            .try_into()
            .expect("16");
        let mut data = [0u8; 32];
        data[..16].copy_from_slice(&key);
        data[16..].copy_from_slice(&key);
        let enc = sm4_ecb(&key, &data, Direction::Encrypt).expect("enc");
        assert_eq!(hex(&enc[..16]), "681edf34d206965e86b3e94f536e4246");
        assert_eq!(enc[..16], enc[16..], "ECB: equal blocks, equal ciphertext");
        let dec = sm4_ecb(&key, &enc, Direction::Decrypt).expect("dec");
        assert_eq!(*dec, data);
    }

    #[test]
    fn sm2_encryption_interoperates_with_openssl() {
        let dir = TempDir::new("sm2-pke");
        let key = sm2_key();
        let (key_path, pub_path) = write_key_for_openssl(&dir, "r", &key);

        // We encrypt, OpenSSL decrypts (lengths around the 32-byte KDF block included).
        for len in [1usize, 16, 31, 32, 33, 100] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let ct = sm2_encrypt(key.public_key_spki(), &plain).expect("encrypt");
            Sm2Cipher::parse(&ct).expect("GM/T 0009 SM2Cipher");
            let ct_path = dir.write(&format!("ours-{len}.der"), &ct);
            assert_eq!(openssl_sm2_decrypt(&key_path, &ct_path), plain, "len {len}");
            assert_eq!(&key.sm2_decrypt(&ct).expect("own decrypt")[..], &plain[..]);
        }

        // OpenSSL encrypts, we decrypt; its output is the same DER SM2Cipher, C3 before C2.
        let plain = b"session key 0123".to_vec();
        let plain_path = dir.write("plain.bin", &plain);
        let ct_path = dir.path("theirs.der");
        openssl(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            pub_path.as_str(),
            "-in",
            plain_path.as_str(),
            "-out",
            ct_path.as_str(),
        ]);
        let theirs = std::fs::read(&ct_path).expect("read");
        let parsed = Sm2Cipher::parse(&theirs).expect("OpenSSL writes SM2Cipher");
        assert_eq!(parsed.cipher_text.as_bytes().len(), plain.len());
        assert_eq!(&key.sm2_decrypt(&theirs).expect("decrypt")[..], &plain[..]);

        // Another key's ciphertext fails OpenSSL too, so the checks above are not vacuous.
        let other = sm2_key();
        let ct = sm2_encrypt(other.public_key_spki(), &plain).expect("encrypt");
        let other_path = dir.write("other.der", &ct);
        let (ok, _, _) = openssl_status(&[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            key_path.as_str(),
            "-passin",
            "pass:pw",
            "-in",
            other_path.as_str(),
        ]);
        assert!(!ok, "OpenSSL decrypted a ciphertext for another key");
    }

    #[test]
    fn sm2_decrypt_refuses_wrong_key_tampering_and_p256() {
        let key = sm2_key();
        let ct = sm2_encrypt(key.public_key_spki(), b"secret").expect("encrypt");
        let err = sm2_key().sm2_decrypt(&ct).expect_err("other key");
        assert!(matches!(err, PkiError::Decryption(_)), "{err}");

        // Last byte is inside C2: the SM3 check must catch it.
        let mut flipped = ct.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let err = key.sm2_decrypt(&flipped).expect_err("tampered");
        assert!(matches!(err, PkiError::Decryption(_)), "{err}");

        let p256 = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).expect("p256");
        let err = p256.sm2_decrypt(&ct).expect_err("p256");
        assert!(
            matches!(
                err,
                PkiError::AlgorithmMismatch {
                    expected: Algorithm::Sm2Sm3,
                    ..
                }
            ),
            "{err}"
        );
        let err = sm2_encrypt(p256.public_key_spki(), b"x").expect_err("p256 recipient");
        assert!(matches!(err, PkiError::AlgorithmMismatch { .. }), "{err}");
        let err = sm2_encrypt(key.public_key_spki(), b"").expect_err("empty");
        assert!(matches!(err, PkiError::InvalidRequest(_)), "{err}");
    }

    #[test]
    fn both_envelope_forms_round_trip_and_agree() {
        let signing = sm2_key();
        let encryption = sm2_key();
        let sealed = seal_encryption_key(&encryption, signing.public_key_spki()).expect("seal");
        assert!(!format!("{sealed:?}").contains(&hex(&sealed.skf_blob[..8])));

        let from_der = open_gmt0009_envelope(&sealed.gmt0009_der, &signing).expect("open der");
        let from_skf = open_skf_envelope(&sealed.skf_blob, &signing).expect("open skf");
        for opened in [&from_der, &from_skf] {
            assert_eq!(opened.public_key_spki(), encryption.public_key_spki());
            assert_eq!(
                *opened.private_scalar_bytes().expect("scalar"),
                *encryption.private_scalar_bytes().expect("scalar")
            );
        }

        // The SKF blob is the DER envelope's content, laid out per GM/T 0016.
        let envelope = Sm2EnvelopedKey::from_der(&sealed.gmt0009_der).expect("der");
        assert_eq!(envelope.sym_alg_id.oid, OID_SM4_ECB);
        assert!(envelope.sym_alg_id.parameters.is_none());
        let blob = &sealed.skf_blob;
        assert_eq!(blob.len(), 388);
        assert_eq!(blob[0..12], [1, 0, 0, 0, 0x01, 0x04, 0, 0, 0, 1, 0, 0]);
        assert_eq!(blob[12..44], [0u8; 32]);
        assert_eq!(
            &blob[44..76],
            envelope.sm2_encrypted_private_key.as_bytes().expect("bits")
        );
        assert_eq!(blob[76..80], 256u32.to_le_bytes());
        let point = encryption.public_key_spki().subject_public_key.raw_bytes();
        assert_eq!(envelope.sm2_public_key.raw_bytes(), point);
        assert_eq!(blob[80..112], [0u8; 32]);
        assert_eq!(&blob[112..144], &point[1..33]);
        assert_eq!(blob[144..176], [0u8; 32]);
        assert_eq!(&blob[176..208], &point[33..65]);
        let c = &envelope.sym_encrypted_key;
        let pad32 = |v: &[u8]| {
            let mut out = vec![0u8; 64 - v.len()];
            out.extend_from_slice(v);
            out
        };
        assert_eq!(blob[208..272], pad32(c.x_coordinate.as_bytes())[..]);
        assert_eq!(blob[272..336], pad32(c.y_coordinate.as_bytes())[..]);
        assert_eq!(&blob[336..368], c.hash.as_bytes());
        assert_eq!(blob[368..372], 16u32.to_le_bytes());
        assert_eq!(&blob[372..388], c.cipher_text.as_bytes());
    }

    #[test]
    fn skf_reader_accepts_the_padded_encrypt_convention_and_struct_padding() {
        let signing = sm2_key();
        let encryption = sm2_key();
        let sealed = seal_encryption_key(&encryption, signing.public_key_spki()).expect("seal");
        // Writers that encrypt the whole zero-padded 64-byte field leave E(0) || E(0) in the
        // first half; only the second half carries the key.
        let mut padded = sealed.skf_blob.clone();
        padded[12..44].fill(0xA5);
        padded.extend_from_slice(&[0, 0, 0, 0]);
        let opened = open_skf_envelope(&padded, &signing).expect("open");
        assert_eq!(opened.public_key_spki(), encryption.public_key_spki());
    }

    #[test]
    fn openssl_opens_our_envelope_with_the_signing_key() {
        // Independent check of both layers: OpenSSL SM2-decrypts symEncryptedKey with the
        // signing key, then SM4-ECB-decrypts Sm2EncryptedPrivateKey with what it got.
        let dir = TempDir::new("envelope-openssl");
        let signing = sm2_key();
        let encryption = sm2_key();
        let (key_path, _) = write_key_for_openssl(&dir, "sign", &signing);
        let sealed = seal_encryption_key(&encryption, signing.public_key_spki()).expect("seal");
        let envelope = Sm2EnvelopedKey::from_der(&sealed.gmt0009_der).expect("der");

        let cipher_path = dir.write(
            "sym.der",
            &envelope.sym_encrypted_key.to_der().expect("der"),
        );
        let session_key = openssl_sm2_decrypt(&key_path, &cipher_path);
        assert_eq!(session_key.len(), 16);

        let enc_path = dir.write(
            "prikey.enc",
            envelope.sm2_encrypted_private_key.as_bytes().expect("bits"),
        );
        let out_path = dir.path("prikey.bin");
        let session_hex = hex(&session_key);
        openssl(&[
            "enc",
            "-d",
            "-sm4-ecb",
            "-nopad",
            "-K",
            session_hex.as_str(),
            "-in",
            enc_path.as_str(),
            "-out",
            out_path.as_str(),
        ]);
        let scalar = std::fs::read(&out_path).expect("read");
        assert_eq!(
            scalar[..],
            encryption.private_scalar_bytes().expect("scalar")[..]
        );
    }

    #[test]
    fn envelopes_refuse_wrong_recipient_tampering_and_p256() {
        let signing = sm2_key();
        let encryption = sm2_key();
        let sealed = seal_encryption_key(&encryption, signing.public_key_spki()).expect("seal");
        let stranger = sm2_key();
        for err in [
            open_gmt0009_envelope(&sealed.gmt0009_der, &stranger).expect_err("der"),
            open_skf_envelope(&sealed.skf_blob, &stranger).expect_err("skf"),
        ] {
            assert!(matches!(err, PkiError::Decryption(_)), "{err}");
        }

        // A flipped bit in the encrypted private key gives another scalar, refused because it
        // no longer matches the public key.
        let mut skf = sealed.skf_blob.clone();
        skf[60] ^= 0x01;
        let err = open_skf_envelope(&skf, &signing).expect_err("private key flip");
        assert!(matches!(err, PkiError::Decryption(_)), "{err}");
        // Same for a swapped public key.
        let mut skf = sealed.skf_blob.clone();
        let other_point = stranger.public_key_spki().subject_public_key.raw_bytes();
        skf[112..144].copy_from_slice(&other_point[1..33]);
        skf[176..208].copy_from_slice(&other_point[33..65]);
        let err = open_skf_envelope(&skf, &signing).expect_err("public key swap");
        assert!(matches!(err, PkiError::Decryption(_)), "{err}");
        // And in the DER form: last byte is the encrypted private key's.
        let mut der = sealed.gmt0009_der.clone();
        let last = der.len() - 1;
        der[last] ^= 0x80;
        let err = open_gmt0009_envelope(&der, &signing).expect_err("der flip");
        assert!(matches!(err, PkiError::Decryption(_)), "{err}");
        // Wrong algorithm id in the SKF header.
        let mut skf = sealed.skf_blob.clone();
        skf[5] = 0x01; // 0x101 = SGD_SM1_ECB
        let err = open_skf_envelope(&skf, &signing).expect_err("SM1");
        assert!(matches!(err, PkiError::UnsupportedAlgorithm(_)), "{err}");

        let p256 = SoftwareKey::generate(Algorithm::EcdsaP256Sha256).expect("p256");
        let err = seal_encryption_key(&p256, signing.public_key_spki()).expect_err("p256 key");
        assert!(matches!(err, PkiError::AlgorithmMismatch { .. }), "{err}");
        let err = seal_encryption_key(&encryption, p256.public_key_spki()).expect_err("p256 to");
        assert!(matches!(err, PkiError::AlgorithmMismatch { .. }), "{err}");
        let err = open_skf_envelope(&sealed.skf_blob, &p256).expect_err("p256 opener");
        assert!(matches!(err, PkiError::AlgorithmMismatch { .. }), "{err}");
    }

    /// 1000 seeded inputs per form: noise, truncations, and random byte changes of a valid
    /// envelope. None may panic, and none but the valid one may open.
    #[test]
    fn random_and_mangled_envelopes_are_refused_without_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x0e7e_10be);
        let signing = sm2_key();
        let sealed = seal_encryption_key(&sm2_key(), signing.public_key_spki()).expect("seal");
        type Opener = fn(&[u8], &SoftwareKey) -> Result<SoftwareKey, PkiError>;
        let forms: [(&[u8], Opener); 2] = [
            (&sealed.gmt0009_der, open_gmt0009_envelope),
            (&sealed.skf_blob, open_skf_envelope),
        ];
        for (valid, open) in forms {
            for round in 0..1000 {
                let input: Vec<u8> = match round % 4 {
                    0 => (0..rng.random_range(0..500))
                        .map(|_| rng.random())
                        .collect(),
                    1 => valid[..rng.random_range(0..valid.len())].to_vec(),
                    2 => {
                        let mut v = valid.to_vec();
                        for _ in 0..rng.random_range(1..4) {
                            let at = rng.random_range(0..v.len());
                            v[at] = rng.random();
                        }
                        v
                    }
                    _ => {
                        let mut v = valid.to_vec();
                        let at = rng.random_range(0..v.len());
                        v[at] ^= 1 << rng.random_range(0..8);
                        v
                    }
                };
                if input != valid && open(&input, &signing).is_ok() {
                    // Only the SKF reader's documented leniency may let a change through: the
                    // unread first half of cbEncryptedPriKey.
                    let changed: Vec<usize> = (0..valid.len())
                        .filter(|&i| input.get(i) != valid.get(i))
                        .collect();
                    assert!(
                        input.len() == valid.len() && changed.iter().all(|i| (12..44).contains(i)),
                        "round {round} opened a changed envelope at {changed:?}"
                    );
                }
            }
        }
    }
}
