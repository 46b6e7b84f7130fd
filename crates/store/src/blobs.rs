//! Content-addressed file storage for uploads: a blob's name is the SHA-256 of its bytes, kept
//! at `<dir>/ab/cdef…` (the first two hex digits as a fan-out directory, so no directory grows
//! past a few thousand entries).
//!
//! A blob is written to a temporary file in its final directory, fsync'd, then renamed into
//! place, so a crash never leaves a partial blob under a final name; the same bytes put twice
//! (even at once) end as one file. Temporary files left by a crash are swept by
//! [`BlobStore::open`].
//!
//! Everything here is blocking file I/O and, for images, CPU-bound decoding: call it from
//! async code through `tokio::task::spawn_blocking`. [`BlobStore`] is cheap to clone.

use crate::StoreError;
use certdesk_domain::upload::{self, ImageFormat, UploadRefusal};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::io::{self, Cursor, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// Temporary files start with a dot and this prefix; a final blob name never does.
const TEMP_PREFIX: &str = ".tmp-";
/// A temporary file this old belongs to no write in progress: a crash left it.
const STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);
/// The most memory one decode may take. The largest image allowed (50 megapixels) fits as
/// 8-bit RGBA; 16-bit colour at that size does not and is refused.
pub const DECODE_MEMORY_LIMIT: u64 = 256 * 1024 * 1024;

/// A blob's name: the SHA-256 of its bytes as 64 lowercase hex digits. Only [`BlobId::of`] and
/// [`FromStr`] (which checks the form) make one, so an id can never carry a path like `../x`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(String);

impl BlobId {
    /// The id the bytes are stored under.
    pub fn of(bytes: &[u8]) -> BlobId {
        BlobId(hex::encode(Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid blob id {0:?}: expected 64 lowercase hexadecimal digits")]
pub struct InvalidBlobId(pub String);

impl FromStr for BlobId {
    type Err = InvalidBlobId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Lowercase only: "AB…" and "ab…" must not be two names for one file.
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(BlobId(s.to_string()))
        } else {
            // Cut what we echo back: the input is the caller's and may be huge.
            Err(InvalidBlobId(s.chars().take(80).collect()))
        }
    }
}

/// An image that passed every check and is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub id: BlobId,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// Bytes.
    pub size: u64,
}

/// What [`inspect_image`] found in bytes that are an acceptable image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InspectedImage {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// Why [`BlobStore::check_and_store_image`] did not store an upload: the user's file was
/// refused (tell them why), or the store failed (our fault; log it).
#[derive(Debug, Error)]
pub enum UploadError {
    #[error(transparent)]
    Refused(#[from] UploadRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The files of uploaded documents, on the local filesystem.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: Arc<Path>,
}

impl BlobStore {
    /// Opens (creating if needed) the blob directory and removes temporary files a crash left.
    pub fn open(dir: impl Into<PathBuf>) -> Result<BlobStore, StoreError> {
        let root: PathBuf = dir.into();
        create_private_dir(&root)?;
        let store = BlobStore {
            root: Arc::from(root),
        };
        store.sweep_stale_temp_files()?;
        Ok(store)
    }

    /// The directory the blobs live in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives: `<root>/ab/cdef…`.
    fn path_of(&self, id: &BlobId) -> PathBuf {
        let (fan_out, rest) = id.as_str().split_at(2);
        self.root.join(fan_out).join(rest)
    }

    /// Stores the bytes and answers their id. Storing bytes that are already there writes
    /// nothing.
    pub fn put(&self, bytes: &[u8]) -> Result<BlobId, StoreError> {
        let id = BlobId::of(bytes);
        let path = self.path_of(&id);
        if self.exists(&id)? {
            // Kept again: the file counts as young, so the sweep of unreferenced uploads
            // leaves it alone until the record that will refer to it is written.
            let touched = fs::File::options()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_modified(SystemTime::now()));
            match touched {
                Ok(()) => return Ok(id),
                // Deleted meanwhile (its last record went): written anew below.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("touch", &path, e)),
            }
        }
        let dir = path.parent().unwrap_or(&self.root);
        create_private_dir(dir)?;
        let mut temp = TempFile::create_in(dir)?;
        temp.file
            .write_all(bytes)
            .and_then(|()| temp.file.sync_all())
            .map_err(|e| io_error("write", &temp.path, e))?;
        // Rename is atomic: readers see no file or the whole file. Two writers of the same
        // bytes both succeed; the second replaces the first with identical content.
        fs::rename(&temp.path, &path).map_err(|e| io_error("rename into", &path, e))?;
        temp.persisted();
        sync_dir(dir)?;
        Ok(id)
    }

    /// The blob's bytes, `None` when there is no such blob. The bytes are checked against the
    /// id, so a file damaged on disk is an error, not silently served.
    pub fn get(&self, id: &BlobId) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path_of(id);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("read", &path, e)),
        };
        if BlobId::of(&bytes) != *id {
            return Err(StoreError::Corrupt(format!(
                "blob {id} does not match its content hash"
            )));
        }
        Ok(Some(bytes))
    }

    pub fn exists(&self, id: &BlobId) -> Result<bool, StoreError> {
        let path = self.path_of(id);
        match fs::metadata(&path) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("inspect", &path, e)),
        }
    }

    /// Removes the blob; `false` when there was none. Identical uploads share one blob, so
    /// delete only once no record refers to the id any more.
    pub fn delete(&self, id: &BlobId) -> Result<bool, StoreError> {
        let path = self.path_of(id);
        // The fan-out directory stays: removing it could race with a put creating a file in it.
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("delete", &path, e)),
        }
    }

    /// Checks an uploaded document (see [`inspect_image`]) and only then stores it. A refused
    /// upload writes nothing at all.
    pub fn check_and_store_image(
        &self,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<StoredImage, UploadError> {
        let image = inspect_image(file_name, bytes)?;
        let id = self.put(bytes)?;
        Ok(StoredImage {
            id,
            format: image.format,
            width: image.width,
            height: image.height,
            size: bytes.len() as u64,
        })
    }

    /// The blobs last written (or kept again) before `cutoff`: candidates for the sweep of
    /// uploads no record refers to, which a crash between keeping a file and writing its
    /// record leaves behind. The caller checks the records before deleting.
    pub fn blobs_older_than(&self, cutoff: SystemTime) -> Result<Vec<BlobId>, StoreError> {
        let mut old = Vec::new();
        for fan_out in read_dir(&self.root)? {
            if !fan_out.is_dir() {
                continue;
            }
            let prefix = fan_out.file_name().and_then(|n| n.to_str()).unwrap_or("");
            for path in read_dir(&fan_out)? {
                let Some(rest) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Ok(id) = format!("{prefix}{rest}").parse::<BlobId>() else {
                    continue; // temporary files and anything else
                };
                let written = fs::metadata(&path).and_then(|m| m.modified());
                if matches!(written, Ok(at) if at < cutoff) {
                    old.push(id);
                }
            }
        }
        Ok(old)
    }

    fn sweep_stale_temp_files(&self) -> Result<(), StoreError> {
        let now = SystemTime::now();
        for fan_out in read_dir(&self.root)? {
            if !fan_out.is_dir() {
                continue;
            }
            for path in read_dir(&fan_out)? {
                let is_temp = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(TEMP_PREFIX));
                if !is_temp {
                    continue;
                }
                // A young temporary file may be another process's write in progress.
                let stale = fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|modified| now.duration_since(modified).ok())
                    .is_some_and(|age| age >= STALE_TEMP_AGE);
                if stale {
                    match fs::remove_file(&path) {
                        Ok(()) => {
                            tracing::info!(path = %path.display(), "removed stale temporary blob")
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_error("delete", &path, e)),
                    }
                }
            }
        }
        Ok(())
    }
}

/// The checks of an uploaded document, in order, each refusing before the next costs more:
/// size (empty, over 5 MB) → format by magic bytes → the dimensions the header declares → a
/// full decode within [`DECODE_MEMORY_LIMIT`]. The file name only labels the messages.
pub fn inspect_image(file_name: &str, bytes: &[u8]) -> Result<InspectedImage, UploadRefusal> {
    let name = upload::display_file_name(file_name);
    upload::check_size(&name, bytes.len() as u64)?;
    let format = upload::check_format(&name, bytes)?;
    let undecodable = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => UploadRefusal::TooDemanding {
            file_name: name.clone(),
        },
        _ => UploadRefusal::Undecodable {
            file_name: name.clone(),
            format,
        },
    };

    let codec = match format {
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
    };
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), codec);
    let mut limits = image::Limits::default();
    // Side limits are left to check_dimensions, whose refusal states the size.
    limits.max_alloc = Some(DECODE_MEMORY_LIMIT);
    reader.limits(limits);
    // Reads the header only.
    let decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    upload::check_dimensions(&name, width, height)?;
    // The decoders do not all count their output buffer against max_alloc; check it here.
    if image::ImageDecoder::total_bytes(&decoder) > DECODE_MEMORY_LIMIT {
        return Err(UploadRefusal::TooDemanding { file_name: name });
    }
    image::DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    Ok(InspectedImage {
        format,
        width,
        height,
    })
}

/// A temporary file that is removed when dropped, unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    file: fs::File,
    persisted: bool,
}

impl TempFile {
    fn create_in(dir: &Path) -> Result<TempFile, StoreError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{TEMP_PREFIX}{}-{n}-{nanos}", std::process::id()));
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                // Identity cards and licences: readable by the service only.
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            match options.open(&path) {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file,
                        persisted: false,
                    })
                }
                // Another process's counter collided with ours: take the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error("create", &path, e)),
            }
        }
    }

    fn persisted(&mut self) {
        self.persisted = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove temporary blob");
            }
        }
    }
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| io_error("create directory", dir, e))
}

/// Makes a rename in `dir` durable: without it a power cut may forget the new name.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("sync directory", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
        .map_err(|e| io_error("list", dir, e))
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Blob {
        action,
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_lowercase_hex() {
        let id = BlobId::of(b"hello");
        assert_eq!(
            id.as_str(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(id.as_str().parse::<BlobId>(), Ok(id.clone()));
        for bad in [
            "../etc/passwd",
            "",
            "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98240",
            "2c/24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "..f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        ] {
            assert!(bad.parse::<BlobId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_blob_lives_under_its_fan_out_directory() {
        let store = BlobStore {
            root: Arc::from(PathBuf::from("/blobs")),
        };
        let id = BlobId::of(b"hello");
        assert_eq!(
            store.path_of(&id),
            PathBuf::from(
                "/blobs/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
            )
        );
    }
}
