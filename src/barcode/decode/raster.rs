//! Image intake: format sniffing, header checks, bounded decoding and downscaling to luma.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::DecodeError;

/// Images narrower or shorter than this cannot hold a readable barcode and are refused before
/// rxing sees them (rxing's MaxiCode detector never returned on 6–12 px wide uniform images;
/// MaxiCode is not compiled in, but tiny images are refused all the same).
pub const MIN_SIDE: u32 = 16;
/// Hard limit on either side, checked from the header before any pixel is decoded.
pub const MAX_SIDE: u32 = 20_000;
/// Hard limit on width × height (64 MP covers 48–50 MP phone sensors), checked from the header.
pub const MAX_PIXELS: u64 = 64_000_000;
/// Allocation limit handed to the image codecs (an RGBA 64 MP frame is 256 MB).
pub const MAX_DECODE_ALLOC: u64 = 320 * 1024 * 1024;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

/// The container formats accepted for upload (`image/jpeg`, `image/png`, `image/webp`,
/// `image/bmp`).
pub fn is_accepted(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Bmp
    )
}

/// Sniffs the format from magic bytes and reads the dimensions from the header only.
///
/// Cheap (no pixel decoding, no allocation proportional to the claimed size), so it runs on
/// the caller's task before a worker is involved.
pub fn probe(bytes: &[u8]) -> Result<ImageInfo, DecodeError> {
    let format = image::guess_format(bytes)
        .map_err(|_| DecodeError::NotAnImage("unrecognised image data".into()))?;
    if !is_accepted(format) {
        return Err(DecodeError::NotAnImage(format!(
            "unsupported image format {}; send JPEG, PNG, WebP or BMP",
            format_name(format)
        )));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // Header parsing only; limits are enforced below with the dimensions in hand, so that a
    // decompression bomb is reported as TooLarge with its claimed size.
    reader.no_limits();
    let (width, height) = match reader.into_dimensions() {
        Ok(dims) => dims,
        Err(e) => {
            // The png crate wants the chunks up to the first IDAT; a cut-off bomb still
            // deserves TooLarge rather than Corrupt when its IHDR says so.
            if let Some((w, h)) = png_ihdr_dimensions(bytes) {
                check_dimensions(w, h)?;
            }
            return Err(DecodeError::Corrupt(format!(
                "{} header unreadable: {e}",
                format_name(format)
            )));
        }
    };
    check_dimensions(width, height)?;
    Ok(ImageInfo {
        format,
        width,
        height,
    })
}

/// Width and height from a PNG's IHDR (signature, length 13, "IHDR", w, h).
fn png_ihdr_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let ihdr = bytes.get(8..24)?;
    if &ihdr[4..8] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(ihdr[8..12].try_into().ok()?);
    let h = u32::from_be_bytes(ihdr[12..16].try_into().ok()?);
    Some((w, h))
}

fn check_dimensions(width: u32, height: u32) -> Result<(), DecodeError> {
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(DecodeError::TooLarge {
            w: width,
            h: height,
        });
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(DecodeError::TooSmall {
            w: width,
            h: height,
        });
    }
    Ok(())
}

fn format_name(format: ImageFormat) -> &'static str {
    format.extensions_str().first().copied().unwrap_or("image")
}

/// An 8-bit grey image ready for rxing, and how to map its coordinates back.
#[derive(Debug, Clone)]
pub struct LumaImage {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// Factors from this image's coordinates to the original's (after EXIF orientation).
    pub scale_x: f32,
    pub scale_y: f32,
}

/// Decodes the whole image under codec limits, flattens alpha onto white, applies the EXIF
/// orientation, converts to luma and downscales so that the long side is at most `max_side`
/// (0 = never downscale).
pub fn load_luma(bytes: &[u8], max_side: u32) -> Result<LumaImage, DecodeError> {
    let info = probe(bytes)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), info.format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let corrupt = |e: image::ImageError| {
        DecodeError::Corrupt(format!("{} undecodable: {e}", format_name(info.format)))
    };
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    let (orig_w, orig_h) = oriented_size(image.width(), image.height(), orientation);

    let luma = to_luma(image);
    let luma = downscale(luma, max_side);
    let mut luma = DynamicImage::ImageLuma8(luma);
    luma.apply_orientation(orientation);
    let luma = luma.into_luma8();
    let (width, height) = luma.dimensions();
    Ok(LumaImage {
        scale_x: orig_w as f32 / width.max(1) as f32,
        scale_y: orig_h as f32 / height.max(1) as f32,
        data: luma.into_raw(),
        width,
        height,
    })
}

fn oriented_size(w: u32, h: u32, orientation: Orientation) -> (u32, u32) {
    match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    }
}

/// Luma (Rec. 601 weights, as image's own conversion), with transparent pixels composited on
/// white: a black-on-transparent PNG would otherwise become black on black.
fn to_luma(image: DynamicImage) -> image::GrayImage {
    if !image.color().has_alpha() {
        return image.into_luma8();
    }
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = image::GrayImage::new(w, h);
    for (dst, src) in out.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = src.0;
        let y = (299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000;
        let a = u32::from(a);
        // y*a + 255*(255-a), over 255
        let v = (y * a + 255 * (255 - a) + 127) / 255;
        dst.0[0] = v.min(255) as u8;
    }
    out
}

/// Area-averaging downscale (image's integer `thumbnail`): fast and free of the aliasing that
/// nearest-neighbour sampling causes on thin bars.
fn downscale(luma: image::GrayImage, max_side: u32) -> image::GrayImage {
    let (w, h) = luma.dimensions();
    let long = w.max(h);
    if max_side == 0 || long <= max_side {
        return luma;
    }
    let ratio = f64::from(max_side) / f64::from(long);
    let nw = ((f64::from(w) * ratio).round() as u32).max(1);
    let nh = ((f64::from(h) * ratio).round() as u32).max(1);
    image::imageops::thumbnail(&luma, nw, nh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32, fill: u8) -> Vec<u8> {
        let img = image::GrayImage::from_pixel(w, h, image::Luma([fill]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn probe_sorts_inputs() {
        assert!(matches!(probe(b""), Err(DecodeError::NotAnImage(_))));
        assert!(matches!(
            probe(b"GIF89a\x01\x00\x01\x00"),
            Err(DecodeError::NotAnImage(m)) if m.contains("gif")
        ));
        assert!(matches!(
            probe(&png(8, 40, 128)),
            Err(DecodeError::TooSmall { w: 8, h: 40 })
        ));
        assert_eq!(
            probe(&png(20, 30, 0)).unwrap(),
            ImageInfo {
                format: ImageFormat::Png,
                width: 20,
                height: 30
            }
        );
        let mut truncated = png(20, 30, 0);
        truncated.truncate(20);
        assert!(matches!(probe(&truncated), Err(DecodeError::Corrupt(_))));
    }

    #[test]
    fn downscale_keeps_aspect_and_reports_scale() {
        let img = image::GrayImage::from_pixel(3200, 1000, image::Luma([200]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        let luma = load_luma(out.get_ref(), 1600).unwrap();
        assert_eq!((luma.width, luma.height), (1600, 500));
        assert!((luma.scale_x - 2.0).abs() < 1e-6 && (luma.scale_y - 2.0).abs() < 1e-6);
        assert_eq!(luma.data.len(), 1600 * 500);
    }

    #[test]
    fn transparent_pixels_become_white() {
        let mut img = image::RgbaImage::from_pixel(20, 20, image::Rgba([0, 0, 0, 0]));
        img.put_pixel(0, 0, image::Rgba([0, 0, 0, 255]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        let luma = load_luma(out.get_ref(), 0).unwrap();
        assert_eq!(luma.data[0], 0);
        assert_eq!(luma.data[1], 255);
    }
}
