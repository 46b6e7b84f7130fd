//! The blob store and the upload checks, on a real directory: what is refused leaves nothing
//! behind, what is accepted is stored once under its hash and reads back identical.

use certdesk_domain::upload::{ImageFormat, Impostor, UploadRefusal, MAX_UPLOAD_BYTES};
use certdesk_store::{BlobId, BlobStore, StoreError, UploadError};
use std::io::Cursor;
use std::path::{Path, PathBuf};

fn new_store() -> (BlobStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = BlobStore::open(dir.path().join("blobs")).expect("open the blob store");
    (store, dir)
}

/// Every file under `dir`, at any depth, temporary ones (dot files) included.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("list directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn assert_nothing_stored(store: &BlobStore) {
    let files = files_under(store.root());
    assert!(files.is_empty(), "a refused upload left files: {files:?}");
}

/// Expects a refusal, checks that nothing was written, and answers it.
fn refused(store: &BlobStore, file_name: &str, bytes: &[u8]) -> UploadRefusal {
    let refusal = match store.check_and_store_image(file_name, bytes) {
        Err(UploadError::Refused(refusal)) => refusal,
        Err(UploadError::Store(e)) => {
            panic!("{file_name}: store failure instead of a refusal: {e}")
        }
        Ok(stored) => panic!("{file_name}: accepted as {stored:?}"),
    };
    assert_nothing_stored(store);
    assert!(
        refusal.to_string().contains(file_name),
        "the message names the file: {refusal}"
    );
    refusal
}

/// A deterministic noise image (xorshift), so encoders cannot compress it away.
fn noise(width: u32, height: u32) -> image::RgbImage {
    let mut state: u32 = 0x9E37_79B9;
    image::RgbImage::from_fn(width, height, |_, _| {
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        };
        image::Rgb([next(), next(), next()])
    })
}

fn gradient(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    })
}

fn encode(img: &image::RgbImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_header(width: u32, height: u32, bit_depth: u8, colour_type: u8) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[bit_depth, colour_type, 0, 0, 0]);
    ihdr
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

#[test]
fn an_executable_named_jpg_is_refused_as_an_executable() {
    let (store, _dir) = new_store();
    let exe = ["/usr/bin/true", "/bin/ls", "/bin/true"]
        .iter()
        .find_map(|p| std::fs::read(p).ok())
        .expect("an executable to read");
    let head = &exe[..exe.len().min(64 * 1024)];
    assert!(head.starts_with(b"\x7fELF"), "the test needs an ELF binary");

    let refusal = refused(&store, "licence.jpg", head);
    assert_eq!(
        refusal,
        UploadRefusal::NotAnImage {
            file_name: "licence.jpg".into(),
            actual: Some(Impostor::Elf),
        }
    );
    assert_eq!(
        refusal.to_string(),
        "文件“licence.jpg”不是 JPG、PNG 或 BMP 图片（实际内容是可执行程序）"
    );
}

#[test]
fn a_six_megabyte_image_is_refused_with_its_size() {
    let (store, _dir) = new_store();
    // 1448 × 1448 × 3 bytes of 24-bit BMP: just under 6 MiB, a real image.
    let bmp = encode(&noise(1448, 1448), image::ImageFormat::Bmp);
    assert!(bmp.len() as u64 > MAX_UPLOAD_BYTES);
    assert!(image::load_from_memory(&bmp).is_ok(), "a valid image");

    let refusal = refused(&store, "营业执照.bmp", &bmp);
    assert!(matches!(refusal, UploadRefusal::TooLarge { size, .. } if size == bmp.len() as u64));
    assert_eq!(
        refusal.to_string(),
        "文件“营业执照.bmp”大小为 6.0 MB，超过 5 MB 的上限，请压缩后重新上传"
    );
    assert_eq!(refusal.code(), "upload_too_large");
}

#[test]
fn valid_jpg_png_and_bmp_are_stored_once_and_read_back() {
    let (store, _dir) = new_store();
    let img = gradient(320, 200);
    let cases = [
        ("scan.jpg", image::ImageFormat::Jpeg, ImageFormat::Jpeg),
        // The name lies the other way: a PNG called .jpeg is still accepted, as a PNG.
        ("id-front.jpeg", image::ImageFormat::Png, ImageFormat::Png),
        ("letter.bmp", image::ImageFormat::Bmp, ImageFormat::Bmp),
    ];
    for (i, (name, codec, want)) in cases.into_iter().enumerate() {
        let bytes = encode(&img, codec);
        let stored = store
            .check_and_store_image(name, &bytes)
            .unwrap_or_else(|e| panic!("{name} refused: {e}"));
        assert_eq!(stored.format, want);
        assert_eq!((stored.width, stored.height), (320, 200));
        assert_eq!(stored.size, bytes.len() as u64);
        assert_eq!(stored.id, BlobId::of(&bytes));

        // The same upload again stores nothing new.
        let again = store
            .check_and_store_image("copy", &bytes)
            .expect("same bytes");
        assert_eq!(again.id, stored.id);
        let files = files_under(store.root());
        assert_eq!(
            files.len(),
            i + 1,
            "one file per distinct upload: {files:?}"
        );
        let (fan_out, rest) = stored.id.as_str().split_at(2);
        assert!(files.contains(&store.root().join(fan_out).join(rest)));

        assert!(store.exists(&stored.id).expect("exists"));
        assert_eq!(store.get(&stored.id).expect("get"), Some(bytes));
    }

    // Deleting removes exactly the one file.
    let id = BlobId::of(&encode(&img, image::ImageFormat::Bmp));
    assert!(store.delete(&id).expect("delete"));
    assert!(!store.delete(&id).expect("delete twice"));
    assert!(!store.exists(&id).expect("exists"));
    assert_eq!(store.get(&id).expect("get"), None);
    assert_eq!(files_under(store.root()).len(), 2);
}

#[test]
fn a_png_header_followed_by_garbage_is_refused_as_undecodable() {
    let (store, _dir) = new_store();
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..4000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let refusal = refused(&store, "licence.png", &bytes);
    assert_eq!(
        refusal,
        UploadRefusal::Undecodable {
            file_name: "licence.png".into(),
            format: ImageFormat::Png,
        }
    );
    assert_eq!(
        refusal.to_string(),
        "文件“licence.png”看起来是 PNG 图片，但无法解码（文件已损坏或不完整）"
    );
}

/// A PNG whose chunks are all well formed (CRCs right) but whose IDAT is not zlib data: only
/// the decoder can tell.
#[test]
fn a_well_formed_png_with_garbage_pixels_is_refused_by_the_decoder() {
    let (store, _dir) = new_store();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &png_header(200, 200, 8, 2));
    let garbage: Vec<u8> = (0..3000u32).map(|i| (i * 7 + 13) as u8).collect();
    png_chunk(&mut png, b"IDAT", &garbage);
    png_chunk(&mut png, b"IEND", &[]);
    assert!(matches!(
        refused(&store, "garbage.png", &png),
        UploadRefusal::Undecodable {
            format: ImageFormat::Png,
            ..
        }
    ));
}

#[test]
fn an_image_too_costly_to_decode_is_refused_before_decoding() {
    let (store, _dir) = new_store();
    // 7000 × 7000 is allowed by size, but as 16-bit RGBA it needs 392 MB to decode.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &png_header(7000, 7000, 16, 6));
    png_chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut png, b"IEND", &[]);
    assert!(matches!(
        refused(&store, "deep.png", &png),
        UploadRefusal::TooDemanding { .. }
    ));
}

#[test]
fn truncated_images_are_refused() {
    let (store, _dir) = new_store();
    let img = noise(400, 300);
    for (name, codec, format) in [
        ("cut.jpg", image::ImageFormat::Jpeg, ImageFormat::Jpeg),
        ("cut.png", image::ImageFormat::Png, ImageFormat::Png),
        ("cut.bmp", image::ImageFormat::Bmp, ImageFormat::Bmp),
    ] {
        let full = encode(&img, codec);
        for cut in [full.len() / 2, full.len() - 1] {
            let refusal = refused(&store, name, &full[..cut]);
            assert!(
                matches!(refusal, UploadRefusal::Undecodable { format: f, .. } if f == format),
                "{name} cut at {cut}/{}: {refusal:?}",
                full.len()
            );
        }
    }
}

#[test]
fn a_huge_dimension_png_header_is_refused_without_decoding() {
    let (store, _dir) = new_store();
    // 100000 × 100000 RGB would need 30 GB: refusing it at all proves nothing was allocated.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &png_header(100_000, 100_000, 8, 2));
    png_chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut png, b"IEND", &[]);

    let refusal = refused(&store, "bomb.png", &png);
    assert_eq!(
        refusal,
        UploadRefusal::DimensionsTooLarge {
            file_name: "bomb.png".into(),
            width: 100_000,
            height: 100_000,
        }
    );
    assert!(refusal.to_string().contains("100000×100000"), "{refusal}");
}

#[test]
fn other_refusals_leave_nothing_either() {
    let (store, _dir) = new_store();
    assert!(matches!(
        refused(&store, "empty.jpg", b""),
        UploadRefusal::Empty { .. }
    ));
    for (name, bytes, what) in [
        (
            "anim.png",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".as_slice(),
            Impostor::Gif,
        ),
        (
            "licence.jpg",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
            Impostor::Pdf,
        ),
        (
            "setup.bmp",
            b"MZ\x90\x00\x03\x00\x00\x00",
            Impostor::WindowsExecutable,
        ),
        ("docs.jpg", b"PK\x03\x04\x14\x00\x00\x00", Impostor::Zip),
    ] {
        let refusal = refused(&store, name, bytes);
        assert_eq!(
            refusal,
            UploadRefusal::NotAnImage {
                file_name: name.into(),
                actual: Some(what),
            }
        );
    }
    // Too small to read anything on it.
    let tiny = encode(&gradient(50, 40), image::ImageFormat::Png);
    assert!(matches!(
        refused(&store, "tiny.png", &tiny),
        UploadRefusal::DimensionsTooSmall {
            width: 50,
            height: 40,
            ..
        }
    ));
    // A path in the name is cut to the file's own name in the message.
    let err = store
        .check_and_store_image("C:\\fakepath\\empty.png", b"")
        .expect_err("empty");
    assert_eq!(err.to_string(), "文件“empty.png”是空文件");
    assert_nothing_stored(&store);
}

#[test]
fn ids_that_are_not_64_lowercase_hex_are_refused() {
    for bad in ["../etc/passwd", "..", "/etc/passwd", "ab/../../x", ""] {
        assert!(bad.parse::<BlobId>().is_err(), "{bad:?}");
    }
    let upper = BlobId::of(b"x").as_str().to_uppercase();
    assert!(upper.parse::<BlobId>().is_err());
    let id: BlobId = BlobId::of(b"x").as_str().parse().expect("a real id");
    assert_eq!(id, BlobId::of(b"x"));
}

#[test]
fn a_blob_damaged_on_disk_is_reported_not_served() {
    let (store, _dir) = new_store();
    let id = store.put(b"original bytes").expect("put");
    let (fan_out, rest) = id.as_str().split_at(2);
    std::fs::write(store.root().join(fan_out).join(rest), b"tampered").expect("tamper");
    assert!(matches!(store.get(&id), Err(StoreError::Corrupt(_))));
}

#[test]
fn stale_temporary_files_are_swept_on_open() {
    let (store, _dir) = new_store();
    let fan_out = store.root().join("ab");
    std::fs::create_dir_all(&fan_out).expect("fan-out directory");
    let stale = fan_out.join(".tmp-1-2-3");
    let fresh = fan_out.join(".tmp-4-5-6");
    let file = std::fs::File::create(&stale).expect("stale temp");
    file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600))
        .expect("age the file");
    std::fs::write(&fresh, b"in progress").expect("fresh temp");

    let reopened = BlobStore::open(store.root()).expect("reopen");
    assert_eq!(files_under(reopened.root()), vec![fresh]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_of_the_same_bytes_leave_one_file() {
    let (store, _dir) = new_store();
    let bytes = encode(&gradient(300, 300), image::ImageFormat::Png);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || store.check_and_store_image("same.png", &bytes))
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task").expect("stored").id);
    }
    assert!(ids.iter().all(|id| *id == ids[0]));
    let files = files_under(store.root());
    assert_eq!(
        files.len(),
        1,
        "exactly one file, no temporary ones: {files:?}"
    );
    assert_eq!(store.get(&ids[0]).expect("get"), Some(bytes));
}
