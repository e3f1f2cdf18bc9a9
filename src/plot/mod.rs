//! Pictures of runs and sweeps, drawn with plotters: SVG by default, PNG
//! when the file name ends in `.png`.
//!
//! Text is set in DejaVu Sans, embedded in the binary (`DejaVuSans.ttf`
//! beside this file, under the Bitstream Vera licence in
//! `DejaVuSans.LICENSE`), so drawing needs no system fonts: it works the
//! same on a fresh machine and in CI.

pub mod charts;
pub mod diagram;
pub mod picture;
pub mod spans;

use plotters::style::{register_font, FontStyle};
use std::sync::Once;

/// The font family every picture uses.
pub const FONT: &str = "sans-serif";

/// DejaVu Sans, embedded.
static DEJAVU_SANS: &[u8] = include_bytes!("DejaVuSans.ttf");

/// Registers the embedded font as [`FONT`] for every style (once per
/// process); call before drawing any text.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            // The bytes are a valid TrueType font, compiled in.
            if register_font(FONT, style, DEJAVU_SANS).is_err() {
                debug_assert!(false, "the embedded font does not load");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;

    #[test]
    fn text_renders_with_the_embedded_font_in_svg_and_png() {
        register_fonts();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (200, 50)).into_drawing_area();
            root.fill(&WHITE).unwrap();
            root.draw(&Text::new("n1 leader", (5, 5), (FONT, 14).into_font()))
                .unwrap();
            root.present().unwrap();
        }
        assert!(svg.contains("n1 leader"), "{svg}");
        let mut pixels = vec![0u8; 200 * 50 * 3];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (200, 50)).into_drawing_area();
            root.fill(&WHITE).unwrap();
            root.draw(&Text::new("n1 leader", (5, 5), (FONT, 14).into_font()))
                .unwrap();
            root.present().unwrap();
        }
        assert!(pixels.iter().any(|&b| b < 128), "some text pixels are dark");
    }
}
