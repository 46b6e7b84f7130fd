//! Uploaded documents (DOMAIN.md, 新办): what may be uploaded, and the rules an upload's bytes
//! must pass before it is stored. Only the bytes decide the format — a file's name is the
//! applicant's claim, and an executable renamed `licence.jpg` is still an executable.
//!
//! Everything here is pure. Decoding the image (the final proof that it is one) needs a codec
//! and lives in the store (`BlobStore::check_and_store_image`), which calls these rules in order:
//! [`check_size`] → [`check_format`] → [`check_dimensions`] → decode.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// The largest upload we accept: 5 MB (DOMAIN.md), counted in binary megabytes.
pub const MAX_UPLOAD_BYTES: u64 = 5 * 1024 * 1024;
/// A side shorter than this cannot show a readable document.
pub const MIN_IMAGE_SIDE: u32 = 100;
/// A side longer than this is no scan or photo of a document; refusing it bounds decoding work.
pub const MAX_IMAGE_SIDE: u32 = 10_000;
/// At most 50 megapixels (a 10000×10000 image would need 300–400 MB to decode).
pub const MAX_IMAGE_PIXELS: u64 = 50_000_000;
/// Longest file name shown back to the user; longer names are cut with "…".
const MAX_DISPLAY_NAME_CHARS: usize = 80;

/// The documents a new-certificate order (新办) asks for. Stored as the snake-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadKind {
    /// 营业执照
    BusinessLicence,
    /// 经办人身份证人像面
    IdCardFront,
    /// 经办人身份证国徽面
    IdCardBack,
    /// 授权委托书
    AuthorisationLetter,
    /// 服务协议
    ServiceAgreement,
}

impl UploadKind {
    pub const ALL: [UploadKind; 5] = [
        UploadKind::BusinessLicence,
        UploadKind::IdCardFront,
        UploadKind::IdCardBack,
        UploadKind::AuthorisationLetter,
        UploadKind::ServiceAgreement,
    ];

    /// The name stored in the database and used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadKind::BusinessLicence => "business_licence",
            UploadKind::IdCardFront => "id_card_front",
            UploadKind::IdCardBack => "id_card_back",
            UploadKind::AuthorisationLetter => "authorisation_letter",
            UploadKind::ServiceAgreement => "service_agreement",
        }
    }

    /// The name users see.
    pub fn label_zh(self) -> &'static str {
        match self {
            UploadKind::BusinessLicence => "营业执照",
            UploadKind::IdCardFront => "经办人身份证人像面",
            UploadKind::IdCardBack => "经办人身份证国徽面",
            UploadKind::AuthorisationLetter => "授权委托书",
            UploadKind::ServiceAgreement => "服务协议",
        }
    }
}

impl fmt::Display for UploadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown upload kind {0:?}")]
pub struct UnknownUploadKind(pub String);

impl FromStr for UploadKind {
    type Err = UnknownUploadKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UploadKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownUploadKind(s.to_string()))
    }
}

/// The image formats we accept (DOMAIN.md: JPG/JPEG/PNG/BMP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageFormat {
    Jpeg,
    Png,
    Bmp,
}

impl ImageFormat {
    /// The format the bytes are, by their magic number; `None` for anything else.
    pub fn detect(bytes: &[u8]) -> Option<ImageFormat> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if bytes.starts_with(b"BM") && bytes.len() >= BMP_MIN_HEADER {
            // "BM" alone is two letters a text file may start with; a BMP has at least the
            // 14-byte file header and the 12-byte core info header.
            Some(ImageFormat::Bmp)
        } else {
            None
        }
    }

    /// The name users see ("JPG", "PNG", "BMP").
    pub fn label(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPG",
            ImageFormat::Png => "PNG",
            ImageFormat::Bmp => "BMP",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Bmp => "image/bmp",
        }
    }

    /// The usual file extension, for serving the file back under a truthful name.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::Bmp => "bmp",
        }
    }
}

impl fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

const BMP_MIN_HEADER: usize = 14 + 12;

/// Common things sent in place of an image, recognised by their magic number so the refusal
/// can say what the file really is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Impostor {
    /// Linux ELF executable or library.
    Elf,
    /// Windows PE executable or DLL (starts with "MZ").
    WindowsExecutable,
    /// macOS Mach-O executable.
    MachO,
    /// A script with a `#!` line.
    Script,
    Pdf,
    /// ZIP archive; also .docx/.xlsx, which are ZIP files.
    Zip,
    Rar,
    SevenZip,
    Gif,
    Webp,
    Tiff,
    /// HEIC/HEIF (iPhone photos) or another ISO-BMFF file.
    Heif,
}

impl Impostor {
    pub fn detect(bytes: &[u8]) -> Option<Impostor> {
        const MACHO: [[u8; 4]; 4] = [
            [0xFE, 0xED, 0xFA, 0xCE],
            [0xFE, 0xED, 0xFA, 0xCF],
            [0xCE, 0xFA, 0xED, 0xFE],
            [0xCF, 0xFA, 0xED, 0xFE],
        ];
        let starts = |magic: &[u8]| bytes.starts_with(magic);
        if starts(b"\x7fELF") {
            Some(Impostor::Elf)
        } else if starts(b"MZ") {
            Some(Impostor::WindowsExecutable)
        } else if MACHO.iter().any(|m| starts(m)) {
            Some(Impostor::MachO)
        } else if starts(b"#!") {
            Some(Impostor::Script)
        } else if starts(b"%PDF-") {
            Some(Impostor::Pdf)
        } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
            Some(Impostor::Zip)
        } else if starts(b"Rar!\x1a\x07") {
            Some(Impostor::Rar)
        } else if starts(b"7z\xbc\xaf\x27\x1c") {
            Some(Impostor::SevenZip)
        } else if starts(b"GIF87a") || starts(b"GIF89a") {
            Some(Impostor::Gif)
        } else if starts(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
            Some(Impostor::Webp)
        } else if starts(b"II*\0") || starts(b"MM\0*") {
            Some(Impostor::Tiff)
        } else if bytes.get(4..8) == Some(b"ftyp") {
            Some(Impostor::Heif)
        } else {
            None
        }
    }

    /// What the file is, in words users understand.
    pub fn label_zh(self) -> &'static str {
        match self {
            // Users need to know it is a program, not for which system.
            Impostor::Elf | Impostor::WindowsExecutable | Impostor::MachO => "可执行程序",
            Impostor::Script => "脚本程序",
            Impostor::Pdf => "PDF 文档",
            Impostor::Zip => "ZIP 压缩包或 Office 文档",
            Impostor::Rar => "RAR 压缩包",
            Impostor::SevenZip => "7z 压缩包",
            Impostor::Gif => "GIF 图片",
            Impostor::Webp => "WebP 图片",
            Impostor::Tiff => "TIFF 图片",
            Impostor::Heif => "HEIC/HEIF 图片或视频",
        }
    }
}

/// Why an upload was refused. Every message names the file, so a user who sent five files
/// knows which one to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UploadRefusal {
    #[error("文件“{file_name}”是空文件")]
    Empty { file_name: String },
    #[error(
        "文件“{file_name}”大小为 {}，超过 5 MB 的上限，请压缩后重新上传",
        megabytes(*size)
    )]
    TooLarge { file_name: String, size: u64 },
    #[error("文件“{file_name}”不是 JPG、PNG 或 BMP 图片{}", actual_suffix(*actual))]
    NotAnImage {
        file_name: String,
        /// What the bytes really are, when we recognise them.
        actual: Option<Impostor>,
    },
    #[error("文件“{file_name}”看起来是 {format} 图片，但无法解码（文件已损坏或不完整）")]
    Undecodable {
        file_name: String,
        format: ImageFormat,
    },
    #[error(
        "文件“{file_name}”的图片尺寸为 {width}×{height} 像素，太小，无法看清内容（每边至少 {MIN_IMAGE_SIDE} 像素）"
    )]
    DimensionsTooSmall {
        file_name: String,
        width: u32,
        height: u32,
    },
    #[error(
        "文件“{file_name}”的图片尺寸为 {width}×{height} 像素，超过上限（每边至多 {MAX_IMAGE_SIDE} 像素、共 5000 万像素），请缩小后重新上传"
    )]
    DimensionsTooLarge {
        file_name: String,
        width: u32,
        height: u32,
    },
    /// The decoder's memory limit stopped it (e.g. 16-bit colour at the largest size allowed).
    #[error("文件“{file_name}”解码所需内存过大，请转换为普通 JPG 或 PNG 后重新上传")]
    TooDemanding { file_name: String },
}

impl UploadRefusal {
    /// A stable code for the API (`error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            UploadRefusal::Empty { .. } => "upload_empty",
            UploadRefusal::TooLarge { .. } => "upload_too_large",
            UploadRefusal::NotAnImage { .. } => "upload_not_an_image",
            UploadRefusal::Undecodable { .. } => "upload_undecodable",
            UploadRefusal::DimensionsTooSmall { .. } => "upload_dimensions_too_small",
            UploadRefusal::DimensionsTooLarge { .. } => "upload_dimensions_too_large",
            UploadRefusal::TooDemanding { .. } => "upload_too_demanding",
        }
    }
}

/// `size` in megabytes with one decimal, rounded up so that anything over the limit never
/// reads as "5.0 MB".
fn megabytes(size: u64) -> String {
    let tenths = size.saturating_mul(10).div_ceil(1024 * 1024);
    format!("{}.{} MB", tenths / 10, tenths % 10)
}

fn actual_suffix(actual: Option<Impostor>) -> String {
    match actual {
        Some(what) => format!("（实际内容是{}）", what.label_zh()),
        None => String::new(),
    }
}

/// The file name as we show it back: the last path component (browsers may send
/// `C:\fakepath\x.jpg`), without control characters or bidirectional overrides (which can
/// make `gpj.exe` display as `exe.jpg`), cut to a readable length.
pub fn display_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        return "（未命名）".to_string();
    }
    if clean.chars().count() > MAX_DISPLAY_NAME_CHARS {
        let mut cut: String = clean.chars().take(MAX_DISPLAY_NAME_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        clean.to_string()
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The first rule, before anything looks inside the file: not empty, at most 5 MB.
pub fn check_size(file_name: &str, size: u64) -> Result<(), UploadRefusal> {
    if size == 0 {
        Err(UploadRefusal::Empty {
            file_name: file_name.to_string(),
        })
    } else if size > MAX_UPLOAD_BYTES {
        Err(UploadRefusal::TooLarge {
            file_name: file_name.to_string(),
            size,
        })
    } else {
        Ok(())
    }
}

/// The second rule: the bytes start like a JPG, PNG or BMP, and a JPEG or PNG runs to its end
/// marker. A file cut off in transfer is refused even where a decoder would cope: the lenient
/// JPEG decoder fills the missing part with grey, and a PNG may lose only its IEND chunk.
pub fn check_format(file_name: &str, bytes: &[u8]) -> Result<ImageFormat, UploadRefusal> {
    let Some(format) = ImageFormat::detect(bytes) else {
        return Err(UploadRefusal::NotAnImage {
            file_name: file_name.to_string(),
            actual: Impostor::detect(bytes),
        });
    };
    let complete = match format {
        ImageFormat::Jpeg => jpeg_is_complete(bytes),
        ImageFormat::Png => png_is_complete(bytes),
        // No end marker; the decoder refuses missing pixel rows.
        ImageFormat::Bmp => true,
    };
    if !complete {
        return Err(UploadRefusal::Undecodable {
            file_name: file_name.to_string(),
            format,
        });
    }
    Ok(format)
}

/// The third rule, on the dimensions the image header declares (read before decoding, so a
/// header claiming 100000×100000 is refused without allocating anything).
pub fn check_dimensions(file_name: &str, width: u32, height: u32) -> Result<(), UploadRefusal> {
    if width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE {
        Err(UploadRefusal::DimensionsTooSmall {
            file_name: file_name.to_string(),
            width,
            height,
        })
    } else if width > MAX_IMAGE_SIDE
        || height > MAX_IMAGE_SIDE
        || u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS
    {
        Err(UploadRefusal::DimensionsTooLarge {
            file_name: file_name.to_string(),
            width,
            height,
        })
    } else {
        Ok(())
    }
}

/// Walks a PNG's chunks to IEND. `false` when the data ends first. Bytes after IEND are
/// allowed, as for JPEG.
pub fn png_is_complete(bytes: &[u8]) -> bool {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if !bytes.starts_with(SIGNATURE) {
        return false;
    }
    let mut i = SIGNATURE.len();
    loop {
        let Some(header) = bytes.get(i..i + 8) else {
            return false;
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let Ok(len) = usize::try_from(len) else {
            return false;
        };
        // Length, type, data, CRC.
        let Some(end) = i.checked_add(12).and_then(|n| n.checked_add(len)) else {
            return false;
        };
        if end > bytes.len() {
            return false;
        }
        if &header[4..8] == b"IEND" {
            return true;
        }
        i = end;
    }
}

/// Walks a JPEG's marker segments from SOI to EOI. `false` when the data ends first (a
/// truncated upload) or a segment is malformed. Bytes after EOI are allowed: phones append
/// data there (e.g. the video of a "motion photo").
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let mut i = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if bytes.get(i) != Some(&0xFF) {
            return false;
        }
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = bytes.get(i) else {
            return false;
        };
        i += 1;
        match marker {
            0xD9 => return true,
            // Standalone markers: no length field.
            0x01 | 0xD0..=0xD7 => continue,
            0x00 => return false,
            _ => {}
        }
        let Some(len) = bytes
            .get(i..i + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return false;
        };
        if len < 2 {
            return false;
        }
        i += len;
        if i > bytes.len() {
            return false;
        }
        if marker == 0xDA {
            // Entropy-coded data follows the scan header. Inside it 0xFF is always followed by
            // 0x00 (a stuffed byte) or a restart marker, so the next other marker ends it.
            loop {
                match bytes.get(i) {
                    None => return false,
                    Some(&0xFF) => match bytes.get(i + 1) {
                        None => return false,
                        Some(&0x00) | Some(0xD0..=0xD7) => i += 2,
                        Some(_) => break,
                    },
                    Some(_) => i += 1,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal JPEG marker skeleton (not decodable, but structurally complete).
    fn jpeg_skeleton() -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8];
        // APP0 with a fake thumbnail that contains an EOI marker of its own.
        b.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x06, 0xFF, 0xD9, 0xAA, 0xBB]);
        // SOS header (length 8), then entropy data with a stuffed 0xFF and a restart marker.
        b.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 1, 2, 3, 4, 5, 6]);
        b.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56]);
        b.extend_from_slice(&[0xFF, 0xD9]);
        b
    }

    #[test]
    fn upload_kinds_round_trip_and_have_labels() {
        for kind in UploadKind::ALL {
            assert_eq!(kind.as_str().parse::<UploadKind>(), Ok(kind));
            assert_eq!(
                serde_json::to_string(&kind).expect("serialise"),
                format!("\"{}\"", kind.as_str())
            );
            assert!(!kind.label_zh().is_empty());
        }
        assert_eq!(UploadKind::IdCardBack.label_zh(), "经办人身份证国徽面");
        assert!("passport".parse::<UploadKind>().is_err());
    }

    #[test]
    fn formats_are_detected_by_magic_not_name() {
        assert_eq!(
            ImageFormat::detect(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::detect(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::detect(&[b"BM".as_slice(), &[0; 30]].concat()),
            Some(ImageFormat::Bmp)
        );
        // Two letters are not a BMP.
        assert_eq!(ImageFormat::detect(b"BMW is a car"), None);
        assert_eq!(ImageFormat::detect(b""), None);
        assert_eq!(ImageFormat::detect(b"\x7fELF\x02\x01\x01"), None);
    }

    #[test]
    fn impostors_are_named() {
        let cases: [(&[u8], Impostor); 9] = [
            (b"\x7fELF\x02\x01\x01\0", Impostor::Elf),
            (b"MZ\x90\0\x03\0", Impostor::WindowsExecutable),
            (b"%PDF-1.7\n", Impostor::Pdf),
            (b"PK\x03\x04\x14\0", Impostor::Zip),
            (b"GIF89a\x01\0", Impostor::Gif),
            (b"GIF87a\x01\0", Impostor::Gif),
            (b"RIFF\0\0\0\0WEBPVP8 ", Impostor::Webp),
            (b"#!/bin/sh\n", Impostor::Script),
            (b"\0\0\0\x18ftypheic", Impostor::Heif),
        ];
        for (bytes, want) in cases {
            assert_eq!(Impostor::detect(bytes), Some(want), "{bytes:?}");
        }
        assert_eq!(Impostor::detect(b"hello"), None);
    }

    #[test]
    fn an_executable_named_jpg_is_refused_with_what_it_is() {
        let err = check_format("licence.jpg", b"\x7fELF\x02\x01\x01\0\0\0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "文件“licence.jpg”不是 JPG、PNG 或 BMP 图片（实际内容是可执行程序）"
        );
        assert_eq!(err.code(), "upload_not_an_image");
        let err = check_format("a.png", b"just text").unwrap_err();
        assert_eq!(err.to_string(), "文件“a.png”不是 JPG、PNG 或 BMP 图片");
    }

    #[test]
    fn size_rules() {
        assert_eq!(
            check_size("x.jpg", 0),
            Err(UploadRefusal::Empty {
                file_name: "x.jpg".into()
            })
        );
        assert!(check_size("x.jpg", 1).is_ok());
        assert!(check_size("x.jpg", MAX_UPLOAD_BYTES).is_ok());
        let err = check_size("x.jpg", MAX_UPLOAD_BYTES + 1).unwrap_err();
        // One byte over must not read as "5.0 MB".
        assert!(err.to_string().contains("5.1 MB"), "{err}");
        let err = check_size("scan.bmp", 6 * 1024 * 1024).unwrap_err();
        assert_eq!(
            err.to_string(),
            "文件“scan.bmp”大小为 6.0 MB，超过 5 MB 的上限，请压缩后重新上传"
        );
    }

    #[test]
    fn dimension_rules() {
        assert!(check_dimensions("a", 100, 100).is_ok());
        assert!(check_dimensions("a", 10_000, 5_000).is_ok());
        assert!(matches!(
            check_dimensions("a", 99, 500),
            Err(UploadRefusal::DimensionsTooSmall { .. })
        ));
        assert!(matches!(
            check_dimensions("a", 10_001, 200),
            Err(UploadRefusal::DimensionsTooLarge { .. })
        ));
        // Each side allowed, the product not.
        assert!(matches!(
            check_dimensions("a", 10_000, 10_000),
            Err(UploadRefusal::DimensionsTooLarge { .. })
        ));
        let err = check_dimensions("big.png", 100_000, 100_000).unwrap_err();
        assert!(err.to_string().contains("100000×100000"), "{err}");
    }

    #[test]
    fn jpeg_completeness() {
        let full = jpeg_skeleton();
        assert!(jpeg_is_complete(&full));
        // Trailing data after EOI (motion photos) is fine.
        assert!(jpeg_is_complete(
            &[full.as_slice(), b"ftypmp42...."].concat()
        ));
        // Every cut before the final EOI is incomplete, including one inside the APP0
        // segment right after its embedded FF D9.
        for cut in 0..full.len() {
            assert!(!jpeg_is_complete(&full[..cut]), "cut at {cut}");
        }
        let err = check_format("cut.jpg", &full[..full.len() / 2]).unwrap_err();
        assert!(matches!(
            err,
            UploadRefusal::Undecodable {
                format: ImageFormat::Jpeg,
                ..
            }
        ));
    }

    #[test]
    fn png_completeness() {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [
            (b"IHDR", &[0u8; 13][..]),
            (b"IDAT", &[1, 2, 3]),
            (b"IEND", &[]),
        ] {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            png.extend_from_slice(&[0; 4]);
        }
        assert!(png_is_complete(&png));
        assert!(png_is_complete(&[png.as_slice(), b"trailer"].concat()));
        for cut in 0..png.len() {
            assert!(!png_is_complete(&png[..cut]), "cut at {cut}");
        }
        // A length running past the end (or overflowing) is incomplete, not a panic.
        let mut huge = png[..8].to_vec();
        huge.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, b'I', b'D', b'A', b'T']);
        assert!(!png_is_complete(&huge));
        assert!(matches!(
            check_format("cut.png", &png[..png.len() - 1]),
            Err(UploadRefusal::Undecodable {
                format: ImageFormat::Png,
                ..
            })
        ));
    }

    #[test]
    fn display_names_are_tidied() {
        assert_eq!(
            display_file_name("C:\\fakepath\\营业执照.jpg"),
            "营业执照.jpg"
        );
        assert_eq!(display_file_name("../../etc/x.png"), "x.png");
        assert_eq!(display_file_name("a\u{202e}\nb.jpg"), "ab.jpg");
        assert_eq!(display_file_name("  "), "（未命名）");
        let long = "长".repeat(200);
        let shown = display_file_name(&long);
        assert_eq!(shown.chars().count(), 80);
        assert!(shown.ends_with('…'));
    }
}
