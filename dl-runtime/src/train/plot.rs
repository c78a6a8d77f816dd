//! Pictures of a [`History`]: one panel per logged quantity (the loss, accuracy, each metric),
//! training against validation per epoch, drawn with plotters into SVG or PNG.
//!
//! Text is drawn with a font shipped in the crate (DejaVu Sans, cut down to ASCII; licence in
//! `fonts/`) through plotters' `ab_glyph` renderer, so drawing needs no system font library:
//! plotters' default `ttf` renderer links fontconfig and freetype.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::history::{History, write_file};
use crate::error::{Error, Result};

/// The family the font is registered under in plotters' table: the generic name, because the
/// SVG backend writes it as the text's `font-family`, where a viewer then uses its own sans
/// font. (A program that registers another "sans-serif" with plotters before drawing a history
/// finds it replaced.)
const FAMILY: &str = "sans-serif";
const FONT: &[u8] = include_bytes!("../../fonts/DejaVuSans-ascii.ttf");
/// Matplotlib's first two colours, which Keras users know from their training plots.
const TRAINING: RGBColor = RGBColor(31, 119, 180);
const VALIDATION: RGBColor = RGBColor(255, 127, 14);
/// Pixels of one panel, and of the strip above the panels that holds the legend.
const PANEL: (u32, u32) = (520, 340);
const LEGEND: u32 = 40;

/// One panel: a quantity's training values and its validation values, per epoch.
struct Panel {
    key: String,
    training: Vec<(f64, f64)>,
    validation: Vec<(f64, f64)>,
}

/// The panels of `history`: every training key with its `val_` twin, and the learning rate
/// when it changed.
fn panels(history: &History) -> Vec<Panel> {
    let series = |key: &str| -> Vec<(f64, f64)> {
        let points = history
            .epochs
            .iter()
            .filter_map(|e| e.get(key).map(|v| (e.epoch as f64, f64::from(v))));
        points.filter(|(_, v)| v.is_finite()).collect()
    };
    let mut panels = Vec::new();
    for key in history.keys() {
        if key.starts_with("val_") {
            continue;
        }
        let training = series(key);
        if key == "learning_rate" && training.windows(2).all(|w| w[0].1 == w[1].1) {
            continue;
        }
        let validation = series(&format!("val_{key}"));
        panels.push(Panel {
            key: key.to_string(),
            training,
            validation,
        });
    }
    panels
}

/// The size of the whole picture for `panels` panels, two to a row.
fn size(panels: usize) -> (u32, u32) {
    let columns = panels.clamp(1, 2) as u32;
    let rows = panels.div_ceil(2).max(1) as u32;
    (PANEL.0 * columns, PANEL.1 * rows + LEGEND)
}

/// `lo..hi` widened by 5% on each side, or by 1 around a single value.
fn padded(lo: f64, hi: f64) -> core::ops::Range<f64> {
    let pad = if hi > lo {
        0.05 * (hi - lo)
    } else {
        1.0_f64.max(lo.abs() * 0.05)
    };
    lo - pad..hi + pad
}

fn draw<DB: DrawingBackend>(history: &History, root: &DrawingArea<DB, Shift>) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    static FONT_ONCE: Once = Once::new();
    FONT_ONCE.call_once(|| {
        // The font is a constant of this crate, checked by its tests, so it always parses.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
    let text = |size: u32| (FAMILY, size).into_font();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (legend, body) = root.split_vertically(LEGEND);
    // One legend for every panel, centred above them, where it cannot hide a curve.
    let centre = legend.dim_in_pixel().0 as i32 / 2;
    for (dx, color, name) in [(-150, TRAINING, "training"), (20, VALIDATION, "validation")] {
        let (x, y) = (centre + dx, LEGEND as i32 / 2 + 4);
        let style = color.stroke_width(3);
        let drawn = legend
            .draw(&PathElement::new(vec![(x, y), (x + 32, y)], style))
            .and_then(|()| legend.draw(&Circle::new((x + 16, y), 4, color.filled())))
            .and_then(|()| legend.draw(&Text::new(name, (x + 40, y - 7), text(17))));
        drawn.map_err(|e| e.to_string())?;
    }
    let panels = panels(history);
    let columns = panels.len().clamp(1, 2);
    let areas = body.split_evenly((panels.len().div_ceil(2), columns));
    let (first, last) = (
        history.epochs[0].epoch as f64,
        history.epochs[history.epochs.len() - 1].epoch as f64,
    );
    // A quarter epoch either side, so that the first and last points are not cut in half.
    let epochs = if last > first {
        first - 0.25..last + 0.25
    } else {
        first - 1.0..first + 1.0
    };
    for (area, panel) in areas.iter().zip(&panels) {
        let values = panel.training.iter().chain(&panel.validation).map(|p| p.1);
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let ys = if lo <= hi { padded(lo, hi) } else { 0.0..1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.key, text(24))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(epochs.clone(), ys)
            .map_err(|e| e.to_string())?;
        let whole = |x: &f64| match x.fract().abs() < 1e-9 {
            true => format!("{x:.0}"),
            false => String::new(),
        };
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc(panel.key.as_str())
            .x_labels(((last - first) as usize + 1).min(10))
            .x_label_formatter(&whole)
            .y_labels(6)
            .label_style(text(16))
            .axis_desc_style(text(17))
            .bold_line_style(BLACK.mix(0.15))
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        for (points, color) in [(&panel.training, TRAINING), (&panel.validation, VALIDATION)] {
            if points.is_empty() {
                continue;
            }
            let style = color.stroke_width(2);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), style))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())
}

fn nonempty(history: &History, what: &'static str) -> Result<()> {
    match history.epochs.is_empty() {
        true => Err(Error::EmptyHistory { what }),
        false => Ok(()),
    }
}

impl History {
    /// The training curves as an SVG document: one panel per logged quantity (the loss, the
    /// accuracy, each metric; the learning rate if it changed), each with the training values
    /// and the validation values per epoch, as Keras users plot `history.history`. An `Err` for
    /// a history without epochs.
    pub fn to_svg(&self) -> Result<String> {
        nonempty(self, "draw")?;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, size(panels(self).len())).into_drawing_area();
            draw(self, &root).map_err(Error::Plot)?;
        }
        Ok(svg)
    }

    /// [`History::to_svg`] written to `path`.
    pub fn write_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(path.as_ref(), self.to_svg()?.as_bytes())
    }

    /// The picture of [`History::to_svg`] as a PNG image.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        nonempty(self, "draw")?;
        let (w, h) = size(panels(self).len());
        let mut pixels = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
            draw(self, &root).map_err(Error::Plot)?;
        }
        let mut png = Vec::new();
        let mut encoder = ::png::Encoder::new(&mut png, w, h);
        encoder.set_color(::png::ColorType::Rgb);
        encoder.set_depth(::png::BitDepth::Eight);
        let encoded = encoder
            .write_header()
            .and_then(|mut writer| writer.write_image_data(&pixels).and_then(|()| writer.finish()));
        encoded.map_err(|e| Error::Plot(e.to_string()))?;
        Ok(png)
    }

    /// [`History::to_png`] written to `path`.
    pub fn write_png(&self, path: impl AsRef<Path>) -> Result<()> {
        write_file(path.as_ref(), &self.to_png()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_font_parses() {
        assert!(plotters::style::register_font("dl-sans-test", FontStyle::Normal, FONT).is_ok());
    }
}
