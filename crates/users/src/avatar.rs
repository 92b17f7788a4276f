//! Avatar images: which formats are accepted (by their content, never their
//! name), and the random file names they are stored under.

use crate::FieldError;

/// An accepted image format, recognised by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    WebP,
    /// GIF.
    Gif,
}

impl ImageKind {
    /// Every accepted format.
    pub const ALL: [ImageKind; 4] = [
        ImageKind::Png,
        ImageKind::Jpeg,
        ImageKind::WebP,
        ImageKind::Gif,
    ];

    /// The format of `bytes`, from their signature.
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageKind::Png)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(ImageKind::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(ImageKind::Gif)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(ImageKind::WebP)
        } else {
            None
        }
    }

    /// The file extension it is stored with.
    pub fn extension(self) -> &'static str {
        match self {
            ImageKind::Png => "png",
            ImageKind::Jpeg => "jpg",
            ImageKind::WebP => "webp",
            ImageKind::Gif => "gif",
        }
    }

    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::WebP => "image/webp",
            ImageKind::Gif => "image/gif",
        }
    }
}

/// The name of a stored avatar file: a random stem of
/// [`AvatarName::STEM_CHARS`] URL-safe characters and the extension of its
/// format. Nothing else parses, so no name can reach outside the avatar folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarName {
    name: String,
    kind: ImageKind,
}

impl AvatarName {
    /// Length of the random part.
    pub const STEM_CHARS: usize = 32;

    /// A fresh random name for an image of `kind`.
    pub fn random(kind: ImageKind) -> AvatarName {
        // 24 random bytes are 32 URL-safe base64 characters.
        let stem = sesame_kernel::secrets::random_token(24);
        AvatarName {
            name: format!("{stem}.{}", kind.extension()),
            kind,
        }
    }

    /// `raw` if it is a name [`AvatarName::random`] could have made.
    pub fn parse(raw: &str) -> Option<AvatarName> {
        let (stem, extension) = raw.split_once('.')?;
        let stem_ok = stem.len() == Self::STEM_CHARS
            && stem
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let kind = ImageKind::ALL
            .into_iter()
            .find(|k| k.extension() == extension)?;
        stem_ok.then(|| AvatarName {
            name: raw.to_owned(),
            kind,
        })
    }

    /// The file name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The format, from the extension it was given when stored.
    pub fn kind(&self) -> ImageKind {
        self.kind
    }
}

/// What a profile update does to the avatar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AvatarChange {
    /// Leaves it as it is.
    #[default]
    Keep,
    /// Removes it (and its file).
    Remove,
    /// Replaces it with these uploaded bytes (checked first).
    Upload(Vec<u8>),
}

/// Checks uploaded bytes: an accepted image format within `max_bytes`.
///
/// # Errors
/// A [`FieldError`] on `avatar` saying what is wrong.
pub(crate) fn check_image(bytes: &[u8], max_bytes: usize) -> Result<ImageKind, FieldError> {
    if bytes.is_empty() {
        return Err(FieldError::new("avatar", "The submitted file is empty.").coded("empty_file"));
    }
    if bytes.len() > max_bytes {
        let max = human_size(max_bytes);
        return Err(FieldError::new(
            "avatar",
            format!("Ensure this file is no larger than {max}."),
        )
        .coded("file_too_large")
        .param("max", max));
    }
    let invalid = || {
        FieldError::new(
            "avatar",
            "Upload a valid image. Accepted formats: PNG, JPEG, WebP and GIF.",
        )
        .coded("invalid_image")
    };
    let kind = ImageKind::sniff(bytes).ok_or_else(invalid)?;
    // A few KiB of PNG can declare a picture that takes every browser
    // showing the avatar gigabytes to decode.
    let size = imagesize::blob_size(bytes).map_err(|_| invalid())?;
    if size.width > MAX_AVATAR_SIDE || size.height > MAX_AVATAR_SIDE {
        return Err(FieldError::new(
            "avatar",
            format!("Ensure the image is at most {MAX_AVATAR_SIDE} pixels wide and high."),
        )
        .coded("image_too_large")
        .param("max", MAX_AVATAR_SIDE.to_string()));
    }
    if kind == ImageKind::Gif && !gif_frames_fit(bytes) {
        return Err(invalid());
    }
    Ok(kind)
}

/// Whether every frame of a GIF lies within [`MAX_AVATAR_SIDE`]: its
/// logical screen was checked above, but a frame may declare any size and
/// place of its own, and browsers grow the picture to fit the first. Frame
/// data is not decompressed. A file that ends early is judged by the frames
/// it has, as browsers show them; one the decoder finds wrong otherwise is
/// refused.
fn gif_frames_fit(bytes: &[u8]) -> bool {
    let mut options = gif::DecodeOptions::new();
    options.skip_frame_decoding(true);
    options.allow_unknown_blocks(true);
    let ended_early = |error| matches!(error, gif::DecodingError::UnexpectedEof);
    let mut decoder = match options.read_info(bytes) {
        Ok(decoder) => decoder,
        Err(error) => return ended_early(error),
    };
    let within = |start: u16, side: u16| usize::from(start) + usize::from(side) <= MAX_AVATAR_SIDE;
    loop {
        match decoder.next_frame_info() {
            Ok(Some(frame)) => {
                if !(within(frame.left, frame.width) && within(frame.top, frame.height)) {
                    return false;
                }
            }
            Ok(None) => return true,
            Err(error) => return ended_early(error),
        }
    }
}

/// The widest and highest an avatar may be, in pixels (a 12-megapixel
/// photo fits).
const MAX_AVATAR_SIDE: usize = 4096;

fn human_size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gif_frame_reaching_past_the_largest_side_is_refused() {
        // A 1×1 screen, a global palette of two colours, then one frame at
        // (`at`, `at`) of `side`×`side` (little-endian).
        let gif = |at: &[u8], side: &[u8]| {
            let mut gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff".to_vec();
            gif.push(0x2c);
            for part in [at, at, side, side] {
                gif.extend_from_slice(part);
            }
            gif.extend_from_slice(b"\x00\x02\x02\x4c\x01\x00\x3b");
            gif
        };
        let (zero, one) = (b"\x00\x00", b"\x01\x00");
        assert_eq!(check_image(&gif(zero, one), 1 << 20), Ok(ImageKind::Gif));
        // Past the screen but within 4096: browsers show it clipped.
        assert_eq!(
            check_image(&gif(b"\x10\x00", b"\x20\x00"), 1 << 20),
            Ok(ImageKind::Gif)
        );
        for (at, side) in [(zero, b"\x20\x4e"), (b"\xff\x0f", b"\x02\x00")] {
            let refused = check_image(&gif(at, side), 1 << 20).unwrap_err();
            assert_eq!(refused.code, "invalid_image");
        }
        // One that ends early is judged by what it has.
        assert_eq!(
            check_image(
                b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04",
                1 << 20
            ),
            Ok(ImageKind::Gif)
        );
    }

    #[test]
    fn formats_are_told_by_content() {
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(&[0xff, 0xd8, 0xff, 0xe0]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(ImageKind::sniff(b"GIF89a..."), Some(ImageKind::Gif));
        assert_eq!(
            ImageKind::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageKind::WebP)
        );
        assert_eq!(ImageKind::sniff(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(ImageKind::sniff(b"<svg xmlns="), None);
        assert_eq!(ImageKind::sniff(b""), None);
    }

    #[test]
    fn only_random_names_parse() {
        let name = AvatarName::random(ImageKind::WebP);
        assert_eq!(AvatarName::parse(name.as_str()), Some(name.clone()));
        assert!(name.as_str().ends_with(".webp"));
        let stem = "a".repeat(AvatarName::STEM_CHARS);
        assert!(AvatarName::parse(&format!("{stem}.png")).is_some());
        for bad in [
            "../etc/passwd".to_owned(),
            format!("{stem}.exe"),
            format!("{stem}.png.png"),
            format!("{stem}/.png"),
            format!("../{}.png", &stem[3..]),
            format!("{}.png", &stem[1..]),
            format!("{stem}a.png"),
            format!("{stem}.PNG"),
            format!("{}%2e.png", &stem[3..]),
            String::new(),
        ] {
            assert_eq!(AvatarName::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn uploads_are_checked() {
        let png =
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89"
                .to_vec();
        assert_eq!(check_image(&png, 100), Ok(ImageKind::Png));
        let mut huge = png.clone();
        huge[16..24].copy_from_slice(&[0, 0, 0xea, 0x60, 0, 0, 0xea, 0x60]);
        let bomb = check_image(&huge, 100).unwrap_err();
        assert_eq!(
            (bomb.code, bomb.params),
            ("image_too_large", vec![("max", "4096".to_owned())]),
            "60000 x 60000 in 33 bytes"
        );
        assert_eq!(
            check_image(&png[..20], 100).unwrap_err().code,
            "invalid_image",
            "no size to read"
        );
        let too_large = check_image(&[png.as_slice(), &[0; 2048]].concat(), 2048).unwrap_err();
        assert_eq!(
            (too_large.field.as_str(), too_large.code, too_large.params),
            (
                "avatar",
                "file_too_large",
                vec![("max", "2 KiB".to_owned())]
            )
        );
        assert_eq!(
            too_large.message,
            "Ensure this file is no larger than 2 KiB."
        );
        assert!(check_image(&png, 10)
            .unwrap_err()
            .message
            .contains("10 bytes"));
        let not_an_image = check_image(b"hello", 100).unwrap_err();
        assert_eq!(
            (not_an_image.code, not_an_image.params),
            ("invalid_image", vec![])
        );
        let empty = check_image(b"", 100).unwrap_err();
        assert_eq!(
            (empty.code, empty.message.as_str()),
            ("empty_file", "The submitted file is empty.")
        );
        assert_eq!(human_size(2 * 1024 * 1024), "2 MiB");
    }
}
