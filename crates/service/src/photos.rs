//! Photos (影像资料) of self-inspection reports and problems. Only JPEG, PNG and WebP are
//! accepted, judged by their content; each is decoded within pixel limits and encoded again,
//! which drops every metadata block (EXIF with its GPS location included) after the
//! orientation it recorded has been applied; a thumbnail is kept beside it.

use std::io::Cursor;

use chrono::{DateTime, Utc};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use liandong_store::Attachment;

use crate::attachments::MAX_ATTACHMENT_BYTES;
use crate::error::{Result, ServiceError};
use crate::{App, Principal};

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIZE: u32 = 320;
/// Largest accepted image side, in pixels: a decompression bomb is refused before decoding.
const MAX_SIDE: u32 = 12_000;

/// What a photo belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoOwner {
    Problem(i64),
    Report(i64),
}

impl PhotoOwner {
    pub fn key(self) -> String {
        match self {
            PhotoOwner::Problem(id) => format!("problem:{id}"),
            PhotoOwner::Report(id) => format!("monthly_report:{id}"),
        }
    }
}

/// A stored photo: the cleaned image and its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub image: Attachment,
    pub thumb_id: Option<i64>,
}

/// A cleaned photo: (bytes, content type, extension), and its JPEG thumbnail.
pub type Cleaned = ((Vec<u8>, &'static str, &'static str), Vec<u8>);

fn bad(message: &str) -> ServiceError {
    ServiceError::invalid("file", message)
}

/// Decodes a JPEG, PNG or WebP photo, applies its recorded orientation and encodes it again
/// without metadata (PNG stays PNG; JPEG and WebP become JPEG), with a thumbnail.
pub fn clean(bytes: &[u8]) -> Result<Cleaned> {
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(bad(&format!(
            "照片不能超过 {} MB",
            MAX_ATTACHMENT_BYTES / 1024 / 1024
        )));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| bad("无法读取照片"))?;
    let format = reader.format();
    if !matches!(
        format,
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)
    ) {
        return Err(bad("照片只能是 JPG、PNG 或 WebP 格式"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|_| bad("照片已损坏或尺寸过大，无法读取"))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img =
        DynamicImage::from_decoder(decoder).map_err(|_| bad("照片已损坏或尺寸过大，无法读取"))?;
    img.apply_orientation(orientation);
    let encoded = if format == Some(ImageFormat::Png) {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        (out, "image/png", "png")
    } else {
        (jpeg(&img, 88)?, "image/jpeg", "jpg")
    };
    let thumb = jpeg(&img.thumbnail(THUMB_SIZE, THUMB_SIZE), 80)?;
    Ok((encoded, thumb))
}

fn jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let rgb = img.to_rgb8();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(out)
}

impl App {
    /// Adds a photo to a problem or a monthly report of the user's own unit.
    pub async fn add_photo(
        &self,
        p: &Principal,
        owner: PhotoOwner,
        file_name: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Photo> {
        let unit = match owner {
            PhotoOwner::Problem(id) => self.problem_for(p, id).await?.department_id,
            PhotoOwner::Report(id) => {
                let r = self.store.monthly_report(id).await?;
                if !p.scope().allows(r.department_id) {
                    return Err(ServiceError::NotFound("未找到该报告".into()));
                }
                r.department_id
            }
        };
        if !p.write_scope().allows(unit) {
            return Err(ServiceError::Forbidden("无权操作其他单位的数据".into()));
        }
        self.store_photo(&p.actor(), owner, file_name, bytes, now)
            .await
    }

    /// Cleans a photo and stores it with its thumbnail (the caller has checked the owner).
    pub(crate) async fn store_photo(
        &self,
        actor: &liandong_store::Actor,
        owner: PhotoOwner,
        file_name: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Photo> {
        let data = bytes.to_vec();
        let ((image, _, ext), thumb) = tokio::task::spawn_blocking(move || clean(&data))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let stem = file_name
            .rsplit_once('.')
            .map(|(s, _)| s)
            .unwrap_or(file_name);
        let name = format!("{stem}.{ext}");
        let stored = self
            .store_file(actor, &owner.key(), None, &name, &image, now)
            .await?;
        let t = self
            .store_file(
                actor,
                &format!("thumb:{}", stored.id),
                None,
                &format!("{stem}-缩略图.jpg"),
                &thumb,
                now,
            )
            .await?;
        Ok(Photo {
            image: stored,
            thumb_id: Some(t.id),
        })
    }

    /// The photos of a problem or report, oldest first.
    pub async fn photos(&self, owner: PhotoOwner) -> Result<Vec<Photo>> {
        let images = self.store.attachments_of(&[owner.key()]).await?;
        let thumbs = self
            .store
            .attachments_of(
                &images
                    .iter()
                    .map(|a| format!("thumb:{}", a.id))
                    .collect::<Vec<_>>(),
            )
            .await?;
        Ok(images
            .into_iter()
            .map(|image| Photo {
                thumb_id: thumbs
                    .iter()
                    .find(|t| t.owner == format!("thumb:{}", image.id))
                    .map(|t| t.id),
                image,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::new_rgb8(w, h);
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .expect("png");
        out
    }

    /// A JPEG with an APP1 Exif block carrying a GPS tag, spliced in after SOI.
    fn jpeg_with_exif() -> Vec<u8> {
        let plain = jpeg(&DynamicImage::new_rgb8(40, 30), 90).expect("jpeg");
        let mut tiff = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
        // tag 0x8825 GPSInfo, type LONG, count 1, offset 26
        tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
        tiff.extend_from_slice(b"GPS-31.4159N-112.4321E");
        let mut out = plain[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((tiff.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&tiff);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn exif_is_dropped_and_a_thumbnail_made() {
        let with = jpeg_with_exif();
        assert!(with.windows(4).any(|w| w == b"Exif"));
        let ((out, ct, ext), thumb) = clean(&with).expect("clean");
        assert_eq!((ct, ext), ("image/jpeg", "jpg"));
        assert!(!out.windows(4).any(|w| w == b"Exif"));
        assert!(!out.windows(3).any(|w| w == b"GPS"));
        let t = image::load_from_memory(&thumb).expect("thumb");
        assert!(t.width() <= THUMB_SIZE && t.height() <= THUMB_SIZE);
    }

    #[test]
    fn png_stays_png_and_large_ones_get_small_thumbnails() {
        let ((out, ct, _), thumb) = clean(&png(1000, 500)).expect("clean");
        assert_eq!(ct, "image/png");
        assert!(out.starts_with(&[0x89, b'P', b'N', b'G']));
        let t = image::load_from_memory(&thumb).expect("thumb");
        assert_eq!((t.width(), t.height()), (320, 160));
    }

    #[test]
    fn other_content_is_refused_whatever_its_name() {
        for bytes in [
            b"%PDF-1.4 not a photo".to_vec(),
            b"GIF89a......".to_vec(),
            b"hello".to_vec(),
        ] {
            let e = clean(&bytes).expect_err("refused");
            assert!(e.to_string().contains("照片"), "{e}");
        }
        // A truncated PNG is refused as damaged.
        let mut cut = png(50, 50);
        cut.truncate(40);
        assert!(clean(&cut).is_err());
    }
}
