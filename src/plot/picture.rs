//! Writing a picture to a file: SVG, or PNG when the name ends in `.png`
//! (case-insensitive), whole or absent (through [`AtomicFile`]).
//!
//! A picture is anything that can draw itself on a plotters drawing area of
//! either backend ([`Draw`]); the PNG is drawn into an RGB buffer with the
//! embedded font and encoded with the `png` crate.

use crate::report::atomic::AtomicFile;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::io::Write;

/// Something that draws itself on a drawing area of any backend.
pub trait Draw {
    /// Draws on `root` (already filled white); an error in words.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// The format a file name asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Scalable vector graphics (the default).
    Svg,
    /// A PNG bitmap.
    Png,
}

impl Format {
    /// PNG if `path` ends in `.png` (any case), else SVG.
    pub fn of(path: &str) -> Format {
        if path.to_ascii_lowercase().ends_with(".png") {
            Format::Png
        } else {
            Format::Svg
        }
    }
}

/// Draws `picture` at `size` (width, height in pixels) in the format its
/// name asks for; the file's bytes.
pub fn render(picture: &impl Draw, size: (u32, u32), format: Format) -> Result<Vec<u8>, String> {
    super::register_fonts();
    match format {
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                root.fill(&WHITE).map_err(|e| e.to_string())?;
                picture.draw(&root)?;
                root.present().map_err(|e| e.to_string())?;
            }
            Ok(text.into_bytes())
        }
        Format::Png => {
            let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
                root.fill(&WHITE).map_err(|e| e.to_string())?;
                picture.draw(&root)?;
                root.present().map_err(|e| e.to_string())?;
            }
            encode_png(&pixels, size).map_err(|e| format!("cannot encode the PNG: {e}"))
        }
    }
}

fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(bytes)
}

/// Draws `picture` and writes it to `path` (whole or absent); the bytes
/// written, or what went wrong in words.
pub fn write(picture: &impl Draw, size: (u32, u32), path: &str) -> Result<usize, String> {
    let bytes = render(picture, size, Format::of(path))?;
    let mut file = AtomicFile::create(path).map_err(|e| format!("cannot create the file: {e}"))?;
    file.write_all(&bytes)
        .and_then(|()| file.commit())
        .map_err(|e| format!("cannot write the file: {e}"))?;
    Ok(bytes.len())
}
