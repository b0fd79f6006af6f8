//! SVG to PNG with resvg (pure Rust) and the bundled DejaVu Sans, so a PNG looks the same on
//! any machine, with or without system fonts.

use crate::error::{Error, Result};
use resvg::{tiny_skia, usvg};

/// DejaVu Sans (Bitstream Vera licence, assets/fonts/DejaVu-LICENSE.txt).
const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Renders `svg` at `scale` × its size (2 gives sharp text on high-density screens).
pub fn render(svg: &str, scale: f32) -> Result<Vec<u8>> {
    let mut options = usvg::Options {
        font_family: "DejaVu Sans".to_owned(),
        ..usvg::Options::default()
    };
    options.fontdb_mut().load_font_data(FONT.to_vec());
    let tree = usvg::Tree::from_str(svg, &options)
        .map_err(|e| Error::Internal(format!("a plot is not valid SVG: {e}")))?;
    let size = tree.size().to_int_size();
    let (w, h) = (
        (size.width() as f32 * scale).ceil() as u32,
        (size.height() as f32 * scale).ceil() as u32,
    );
    let mut pixmap = tiny_skia::Pixmap::new(w.max(1), h.max(1))
        .ok_or_else(|| Error::Internal(format!("cannot draw a {w}×{h} image")))?;
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| Error::Internal(format!("cannot encode PNG: {e}")))
}
